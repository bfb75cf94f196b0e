#!/usr/bin/env bash
# Writes shipimg's shell completions and man pages into OUT_DIR, for the release artifacts and
# for packagers, and prints each file it wrote on stdout:
#   OUT_DIR/completions/shipimg.bash   bash        (e.g. ~/.local/share/bash-completion/completions/shipimg)
#   OUT_DIR/completions/_shipimg       zsh         (a directory on $fpath)
#   OUT_DIR/completions/shipimg.fish   fish        (~/.config/fish/completions/)
#   OUT_DIR/completions/_shipimg.ps1   PowerShell  (dot-sourced from $PROFILE)
#   OUT_DIR/man/shipimg.1, OUT_DIR/man/shipimg-SUB.1 (one per subcommand)
# The release workflow calls it exactly as: SHIPIMG=path/to/shipimg scripts/gen-completions.sh OUT_DIR
#
# Usage: scripts/gen-completions.sh OUT_DIR
# Environment:
#   SHIPIMG   the binary to ask (default: target/debug/shipimg, under $CARGO_TARGET_DIR when set,
#             built with cargo if absent). Any build of the same version writes the same files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
out=$1

if [[ -n ${SHIPIMG:-} ]]; then
    bin=$SHIPIMG
    if [[ ! -x $bin ]]; then
        echo "gen-completions: error: SHIPIMG=\`$bin\` is not an executable file" >&2
        echo "  hint: point SHIPIMG at a built shipimg binary, or unset it to build target/debug/shipimg" >&2
        exit 1
    fi
else
    bin=${CARGO_TARGET_DIR:-$root/target}/debug/shipimg
    if [[ ! -x $bin ]]; then
        echo "gen-completions: building $bin" >&2
        (cd "$root" && cargo build --locked --bin shipimg >&2)
    fi
fi

mkdir -p "$out/completions"
for shell_file in bash:shipimg.bash zsh:_shipimg fish:shipimg.fish powershell:_shipimg.ps1; do
    shell=${shell_file%%:*}
    file=$out/completions/${shell_file#*:}
    "$bin" completions "$shell" >"$file"
    echo "$file"
done
"$bin" manpage --out-dir "$out/man"
