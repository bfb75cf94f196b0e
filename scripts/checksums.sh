#!/usr/bin/env bash
# Writes DIR/SHA256SUMS: the SHA-256 of every release artifact in DIR, in `sha256sum` format
# (sorted by name, names relative to DIR), so users check a download with
# `sha256sum -c --ignore-missing SHA256SUMS`. The release workflow runs it; so do the tests.
#
# Usage: scripts/checksums.sh DIR
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
[[ -d $dir ]] || { echo "checksums: \`$dir\` is not a directory" >&2; exit 1; }
cd "$dir"

# Regular files only, never the sums themselves; C collation so the order is the same anywhere.
mapfile -t artifacts < <(find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort)
if [[ ${#artifacts[@]} -eq 0 ]]; then
    echo "checksums: no artifacts in \`$dir\`" >&2
    exit 1
fi
sha256sum -- "${artifacts[@]}" > SHA256SUMS.tmp
mv SHA256SUMS.tmp SHA256SUMS
echo "checksums: $dir/SHA256SUMS lists ${#artifacts[@]} artifacts" >&2
