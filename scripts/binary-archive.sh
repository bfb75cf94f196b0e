#!/usr/bin/env bash
# Packs the plain-binary release archive of one target: the `shipimg` binary taken out of that
# target's wheel (so the archive holds exactly what pip installs, built once in the manylinux
# container or on macOS), the shell completions and man pages, the README and the licence.
# Prints the archive's path. The release workflow runs it for every wheel; so do the tests.
#
# Usage: scripts/binary-archive.sh WHEEL RUST_TARGET DOCS_DIR OUT_DIR
#   WHEEL        a wheel scripts/build-wheel.sh made
#   RUST_TARGET  the target it was built for, named in the archive (x86_64-unknown-linux-gnu)
#   DOCS_DIR     what scripts/gen-completions.sh wrote (completions and man pages), copied whole
#   OUT_DIR      where shipimg-VERSION-RUST_TARGET.tar.gz goes
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

[[ $# -eq 4 ]] || { echo "usage: $0 WHEEL RUST_TARGET DOCS_DIR OUT_DIR" >&2; exit 2; }
wheel=$1 target=$2 docs=$3 out=$4
[[ -f $wheel ]] || { echo "binary-archive: no wheel \`$wheel\`" >&2; exit 1; }
[[ -d $docs ]] || { echo "binary-archive: no completions and man pages in \`$docs\`" >&2; exit 1; }

# shipimg-0.1.0-py3-none-<platform>.whl -> 0.1.0
version=$(basename "$wheel" | cut -d- -f2)
name=shipimg-$version-$target
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m zipfile -e "$wheel" "$work/wheel"
binary=$work/wheel/shipimg-$version.data/scripts/shipimg
[[ -f $binary ]] || { echo "binary-archive: \`$wheel\` holds no shipimg-$version.data/scripts/shipimg" >&2; exit 1; }

mkdir -p "$work/$name" "$out"
install -m 0755 "$binary" "$work/$name/shipimg"
cp -R "$docs/." "$work/$name/"
cp "$root/README.md" "$root/LICENSE" "$work/$name/"
out=$(cd "$out" && pwd)
tar -C "$work" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
