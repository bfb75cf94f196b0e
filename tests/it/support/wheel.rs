//! shipimg's wheel, built from this checkout once per test run, and fresh virtualenvs with it
//! installed: what `pip install shipimg` / `pipx install shipimg` give a user. The packaging
//! tests and the GitHub Action's tests install from here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{Outcome, repo_root};

/// The cargo target directory the test binary was built in (`<target>/debug/shipimg`).
fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_shipimg"))
        .parent()
        .and_then(Path::parent)
        .expect("the shipimg binary lives in <target>/<profile>/")
}

/// Where the test wheel is compiled: a target directory of its own. maturin's cargo build may
/// relink `<target>/debug/shipimg`, which the other tests run concurrently (seen: "No such
/// file or directory" in a dozen tests while the wheel built).
fn wheel_target() -> PathBuf {
    target_dir().join("wheel-target")
}

/// The wheel of this checkout, built once per test run with `scripts/build-wheel.sh --profile
/// dev`: the same script the release workflow runs, in the dev profile (minutes the first time,
/// seconds after), in [`wheel_target`]. Its maturin lives in that directory's `tools-venv`.
pub fn built_wheel() -> &'static Path {
    static WHEEL: OnceLock<PathBuf> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let out_dir = target_dir().join("test-wheels");
        let out = Outcome::of(
            Command::new("bash")
                .arg(repo_root().join("scripts/build-wheel.sh"))
                .arg(&out_dir)
                .args(["--profile", "dev"])
                .env("CARGO_TARGET_DIR", wheel_target())
                .env_remove("SHIPIMG_TOOLS_VENV"),
        )
        .success();
        let wheel = PathBuf::from(out.stdout.trim());
        assert!(
            wheel.starts_with(&out_dir) && wheel.is_file(),
            "build-wheel.sh printed no wheel it made\n{out}"
        );
        wheel
    })
}

/// `auditwheel show WHEEL`'s verdict (auditwheel from PyPI, pinned, installed into the tools
/// venv build-wheel.sh made): the platform tag the wheel's binary is consistent with.
pub fn auditwheel_show(wheel: &Path) -> String {
    const AUDITWHEEL: &str = "auditwheel==6.4.2";
    let venv = wheel_target().join("tools-venv");
    let auditwheel = venv.join("bin/auditwheel");
    if !auditwheel.is_file() {
        Outcome::of(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            AUDITWHEEL,
        ]))
        .success();
    }
    let out = Outcome::of(Command::new(&auditwheel).arg("show").arg(wheel)).success();
    // The output is wrapped at 72 columns: one line of it.
    out.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A fresh `python3 -m venv` with the wheel installed, removed when dropped.
pub struct InstalledWheel {
    dir: tempfile::TempDir,
}

impl InstalledWheel {
    /// Makes the virtualenv and installs `wheel` into it with its pip, offline (the wheel has
    /// no dependencies).
    pub fn new(wheel: &Path) -> InstalledWheel {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        Outcome::of(Command::new("python3").args(["-m", "venv"]).arg(&venv)).success();
        Outcome::of(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--no-index", "--disable-pip-version-check"])
                .arg(wheel),
        )
        .success();
        InstalledWheel { dir }
    }

    /// The virtualenv's `bin` directory.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("venv/bin")
    }

    /// The installed `shipimg` entry point.
    pub fn shipimg(&self) -> PathBuf {
        self.bin_dir().join("shipimg")
    }
}
