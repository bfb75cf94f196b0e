#!/usr/bin/env bash
# Builds shipimg's wheel (the binary packaged for pip/pipx/uv) with a pinned maturin, and prints
# the wheel's path on stdout. Used by the tests, the GitHub Action's tests and the release
# workflow, so all three build the same way.
#
# Usage: scripts/build-wheel.sh OUT_DIR [MATURIN_ARGS...]
#   e.g. scripts/build-wheel.sh dist                   (release profile, this machine's glibc)
#        scripts/build-wheel.sh dist --profile dev     (reuses `cargo build`'s debug artifacts:
#                                                      seconds instead of a release build's minutes;
#                                                      what the tests install)
#        scripts/build-wheel.sh dist --zig --compatibility manylinux2014
#                                                      (links with zig, pinned below; see
#                                                      docs/packaging.md: not yet proven here)
#        scripts/build-wheel.sh dist --sdist-only      (the sdist, no compiler run)
# Environment:
#   SHIPIMG_TOOLS_VENV   where maturin is installed (default: $CARGO_TARGET_DIR or target, /tools-venv)
#   PYTHON               the interpreter that makes that virtualenv (default: python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
MATURIN_VERSION=1.16.0
ZIGLANG_VERSION=0.15.2

[[ $# -ge 1 ]] || { echo "usage: $0 OUT_DIR [MATURIN_ARGS...]" >&2; exit 2; }
out=$1
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)

venv=${SHIPIMG_TOOLS_VENV:-${CARGO_TARGET_DIR:-$root/target}/tools-venv}
if [[ ! -x $venv/bin/maturin ]] || [[ $("$venv/bin/maturin" --version) != "maturin $MATURIN_VERSION" ]]; then
    echo "build-wheel: installing maturin $MATURIN_VERSION into $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION" >&2
fi

sdist_only=false
profile=(--release)
args=()
for arg in "$@"; do
    case $arg in
        --sdist-only) sdist_only=true ;;
        # maturin forwards --profile to cargo; --release would ask for a second profile.
        --profile | --profile=*) profile=(); args+=("$arg") ;;
        --zig)
            if [[ $("$venv/bin/python" -m ziglang version 2>/dev/null) != "$ZIGLANG_VERSION" ]]; then
                echo "build-wheel: installing ziglang $ZIGLANG_VERSION into $venv" >&2
                "$venv/bin/pip" install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION" >&2
            fi
            # maturin looks for zig on PATH, then runs `python3 -m ziglang`: the venv's.
            export PATH="$venv/bin:$PATH"
            args+=("$arg") ;;
        *) args+=("$arg") ;;
    esac
done

before=$(ls -1 "$out")
cd "$root"
if $sdist_only; then
    "$venv/bin/maturin" sdist --out "$out" "${args[@]}" >&2
else
    "$venv/bin/maturin" build "${profile[@]}" --locked --out "$out" "${args[@]}" >&2
fi
# The file this run added (maturin names it; a rebuild of the same version replaces it).
made=$(comm -13 <(echo "$before") <(ls -1 "$out") | grep -E '\.(whl|tar\.gz)$' || true)
if [[ -z $made ]]; then
    # Same name as before: the newest file is ours.
    for file in "$out"/*.whl "$out"/*.tar.gz; do
        [[ -f $file && ( -z $made || $file -nt $out/$made ) ]] && made=${file##*/}
    done
fi
echo "$out/$made"
