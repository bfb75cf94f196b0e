#!/usr/bin/env bash
# Benchmark: time from nothing to a working `shipimg`, two ways:
#   - from a built wheel: `python3 -m venv` + `pip install WHEEL` + `shipimg --version`, in a
#     fresh directory each run (what `pipx install shipimg` / `uv tool install shipimg` do, less
#     the download);
#   - from source: `cargo install --path . --locked --root TMP` with an empty target directory
#     (what a CI job without a cache did before the wheel), once: it takes minutes.
# Reports each run, the medians and the ratio cargo/wheel as a markdown table on stdout;
# progress goes to stderr.
#
# Usage: bench/install.sh WHEEL [--runs N] [--no-cargo]
#   WHEEL        a release wheel (scripts/build-wheel.sh dist, or pip wheel of the sdist)
#   --runs N     wheel installs (default 5)
#   --no-cargo   skip the cargo install
#   TMPDIR=dir   where the virtualenvs, the cargo root and its target directory go
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

[[ $# -ge 1 ]] || { echo "usage: $0 WHEEL [--runs N] [--no-cargo]" >&2; exit 2; }
wheel=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
runs=5 cargo=true
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --no-cargo) cargo=false; shift ;;
        *) echo "bench/install.sh: unknown argument \`$1\`" >&2; exit 2 ;;
    esac
done
[[ -f $wheel ]] || { echo "bench/install.sh: no wheel \`$wheel\`" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
# Runs "$@" and prints its wall time in seconds; fails if it fails.
timed() {
    local start
    start=$(now)
    "$@" >&2
    echo "$(now) - $start" | bc
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# One wheel install into a fresh virtualenv, checked by the installed binary's version.
wheel_install() {
    local dir=$1
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --no-index --disable-pip-version-check "$wheel"
    [[ $("$dir/bin/shipimg" --version) == "shipimg $version" ]]
}

cargo_install() {
    local dir=$1
    CARGO_TARGET_DIR=$dir/target cargo install --quiet --path "$root" --locked --root "$dir/root"
    [[ $("$dir/root/bin/shipimg" --version) == "shipimg $version" ]]
}

echo "| way | run | seconds |"
echo "| --- | --- | --- |"
wheel_times=()
for ((i = 1; i <= runs; i++)); do
    echo "bench/install.sh: wheel run $i/$runs" >&2
    t=$(timed wheel_install "$work/venv-$i")
    wheel_times+=("$t")
    printf '| wheel: venv + pip install + --version | %d | %.2f |\n' "$i" "$t"
done
wheel_median=$(printf '%s\n' "${wheel_times[@]}" | median)

if $cargo; then
    echo "bench/install.sh: cargo install from an empty target directory (minutes)" >&2
    cargo_time=$(timed cargo_install "$work/cargo")
    printf '| cargo install --path . --locked, empty target dir | 1 | %.1f |\n' "$cargo_time"
fi

echo
printf 'wheel median: %.2f s over %d runs (%s)\n' "$wheel_median" "$runs" "$(basename "$wheel")"
if $cargo; then
    printf 'cargo install: %.1f s; cargo/wheel: %.0fx\n' "$cargo_time" "$(echo "$cargo_time / $wheel_median" | bc -l)"
fi
