#!/usr/bin/env bash
# Benchmark: wall time of `shipimg build` side by side with the engine's own CLI
# (`DOCKER_BUILDKIT=1 docker build`), through the same engine, on:
#   - the example project (fixtures/example, a copy of it): fully cached, and after one source
#     file changed (example_service/__init__.py gets a comment appended before every build);
#   - the large context of bench/gen_context.py (~630 MB, 20,000 small files + 6 x 50 MiB sent,
#     5,000 more files excluded by its .dockerignore; a copy of it) with a Dockerfile
#     `FROM $SANDBOX_BUSYBOX_IMAGE` + `COPY . /ctx` passed with -f from outside the context:
#     fully cached, and after one small file changed.
# Each scenario: one untimed warm-up per tool, then N interleaved runs (CLI, shipimg, CLI, ...).
# Reports min/median/max wall time, the ratio shipimg/CLI of the medians, and the clients'
# peak RSS and CPU (GNU time).
#
# Target (from the issue): shipimg no slower than the CLI on the example. On the large context
# the CLI's incremental file sync is expected to win over shipimg's tar body: the ratios are
# reported, they set the target of the next step.
#
# Usage: bench/build.sh [--runs N] [--example-runs M] [--only example|large]
#   --runs N                     interleaved pairs per scenario (default 5)
#   --example-runs M             for the two example scenarios only (default: N); they are cheap,
#                                and the example's verdict is worth more samples
#   --only example|large         run only the example's, or only the large context's, scenarios
#   SHIPIMG=path/to/shipimg      binary to measure (default: target/release/shipimg)
#   SHIPIMG_BENCH_DIR=dir        where bench/gen_context.py keeps the large context
#                                (default /var/tmp/shipimg-bench; reused if already generated)
#   TMPDIR=dir                   where the copies go (needs ~0.7 GB)
# Needs the sandbox up (fixtures/sandbox.sh up); its environment is read from
# `fixtures/sandbox.sh env` unless SANDBOX_DOCKER is already set.
#
# Prints a markdown table on stdout; progress goes to stderr. Removes the images it made at the
# end; never prunes the engine's build cache: each "changed" build on the large context adds a
# ~630 MB layer to it, and shipimg's tar body one or two more copies of the context (about
# 11 GB for a default run; the engine's own GC policy governs it).
# Do not run it while others build on the same engine: Docker 20.10's BuildKit can panic on
# concurrent builds sharing steps ("panic: failed to get edge", moby/moby#42414).
# This is a benchmark kept in the repo, not a test: it is never run by `cargo test`.

set -euo pipefail
# Decimal point in $EPOCHREALTIME and printf, whatever the caller's locale.
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
runs=5
example_runs=
only=

usage() { sed -n '2,38s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
        --runs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "--runs needs a positive integer" >&2; exit 2; }
            runs=$2
            shift 2
            ;;
        --runs=*)
            runs=${1#--runs=}
            [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "--runs needs a positive integer" >&2; exit 2; }
            shift
            ;;
        --example-runs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "--example-runs needs a positive integer" >&2; exit 2; }
            example_runs=$2
            shift 2
            ;;
        --example-runs=*)
            example_runs=${1#--example-runs=}
            [[ $example_runs =~ ^[1-9][0-9]*$ ]] || { echo "--example-runs needs a positive integer" >&2; exit 2; }
            shift
            ;;
        --only)
            [[ $# -ge 2 && $2 =~ ^(example|large)$ ]] || { echo "--only takes example or large" >&2; exit 2; }
            only=$2
            shift 2
            ;;
        --only=*)
            only=${1#--only=}
            [[ $only =~ ^(example|large)$ ]] || { echo "--only takes example or large" >&2; exit 2; }
            shift
            ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

example_runs=${example_runs:-$runs}

log() { printf '%s\n' "$*" >&2; }

# --- Preconditions ----------------------------------------------------------------------------
if [[ -z ${SANDBOX_DOCKER:-} ]]; then
    env_lines=$("$root/fixtures/sandbox.sh" env)
    eval "$env_lines"
fi
"$root/fixtures/sandbox.sh" status >/dev/null \
    || { log "the sandbox is not up: run fixtures/sandbox.sh up"; exit 1; }
: "${DOCKER_HOST:?}" "${SANDBOX_NETRC:?}" "${SANDBOX_INDEX_URL:?}" "${SANDBOX_BUSYBOX_IMAGE:?}"
docker=$SANDBOX_DOCKER
shipimg=${SHIPIMG:-$root/target/release/shipimg}
shipimg=$(realpath -- "$shipimg" 2>/dev/null) || true
[[ -x $shipimg ]] || { log "no shipimg binary at ${SHIPIMG:-$root/target/release/shipimg} (build it, or set SHIPIMG=)"; exit 1; }
[[ -x /usr/bin/time ]] || { log "/usr/bin/time missing (apt-get install -y time)"; exit 1; }
export DOCKER_BUILDKIT=1

# --- Contexts ---------------------------------------------------------------------------------
bench_dir=${SHIPIMG_BENCH_DIR:-/var/tmp/shipimg-bench}
totals=
if [[ $only != example ]]; then
    mkdir -p "$bench_dir"
    log "== generating (or reusing) $bench_dir/ctx"
    totals=$(python3 "$here/gen_context.py" "$bench_dir/ctx" --scale 1)
    log "$totals"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shipimg-bench-build.XXXXXX")
# Image ids made by this run that are unique to it (changed sources, the large context): removed
# at the end if no tag refers to them any more. The example's fully cached image is the same
# image the tests build, so only our tag on it is removed.
ids_file=$work/ids
: >"$ids_file"
tags=(bench-cli bench-shipimg bench-large-cli bench-large-shipimg)

cleanup() {
    local id n t
    log "== cleanup: removing the bench images (the build cache is left alone)"
    if ! "$docker" version >/dev/null 2>&1; then
        log "the engine does not answer: left behind, remove them by hand: ${tags[*]} $(sort -u "$ids_file" | tr '\n' ' ')"
        rm -rf "$work"
        return
    fi
    for t in "${tags[@]}"; do
        if "$docker" image inspect "$t" >/dev/null 2>&1; then
            "$docker" image rm "$t" >/dev/null || true
        fi
    done
    if [[ -s $ids_file ]]; then
        sort -u "$ids_file" | while read -r id; do
            n=$("$docker" image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null) || continue
            if [[ $n == 0 ]]; then "$docker" image rm "$id" >/dev/null 2>&1 || true; fi
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

log "== copying the example into $work"
cp -a "$root/fixtures/example" "$work/example"
example_changed=$work/example/example_service/__init__.py
[[ -f $example_changed ]] || { log "$example_changed not found"; exit 1; }
mkdir "$work/large"
printf 'FROM %s\nCOPY . /ctx\n' "$SANDBOX_BUSYBOX_IMAGE" >"$work/large/Dockerfile"
large_changed=
if [[ $only != example ]]; then
    log "== copying the large context into $work"
    cp -a "$bench_dir/ctx" "$work/ctx"
    # One small source file of the large context (deterministic: the generator is seeded).
    large_changed=$(find "$work/ctx/app/pkg00/sub000" -maxdepth 1 -name '*.py' | sort | head -n1)
    [[ -f $large_changed ]] || { log "no .py file in $work/ctx/app/pkg00/sub000"; exit 1; }
fi
# A token unique to this invocation, so every "changed" build misses the cache, even across runs.
token="$$-${EPOCHREALTIME/./}"
counter=0
change() { counter=$((counter + 1)); printf '# bench %s %d\n' "$token" "$counter" >>"$1"; }

# --- The commands under test ------------------------------------------------------------------
# Arrays, not functions: /usr/bin/time runs a program. Progress output goes to /dev/null.
cli_example=("$docker" build --progress plain --secret "id=netrc,src=$SANDBOX_NETRC" --network host
    --build-arg "PIP_INDEX_URL=$SANDBOX_INDEX_URL" -t bench-cli "$work/example")
shipimg_example=("$shipimg" build "$work/example" --netrc "$SANDBOX_NETRC" --network host
    --index-url "$SANDBOX_INDEX_URL" -t bench-shipimg --progress plain)
cli_large=("$docker" build --progress plain -f "$work/large/Dockerfile" -t bench-large-cli "$work/ctx")
shipimg_large=("$shipimg" build "$work/ctx" -f "$work/large/Dockerfile" -t bench-large-shipimg
    --progress plain)

# One run: wall seconds from $EPOCHREALTIME (no fork) around the command, and from GNU time the
# client's peak RSS (KB) and CPU seconds. Appends "wall_s rss_kb user_s sys_s" to file $1; the
# rest is the command. On failure, runs it again with its output shown, and stops.
measure() {
    local out=$1 t0 t1
    shift
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f "%M %U %S" -o "$work/time" "$@" >/dev/null 2>&1; then
        log "failed: $*"
        cat "$work/time" >&2
        "$@" >&2 || true
        exit 1
    fi
    t1=$EPOCHREALTIME
    printf '%s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
        "$(tail -n1 "$work/time")" | tee -a "$out" | sed "s|^|  ${out##*/}: |" >&2
}

# Records the id of the image tag $1 points at, for the cleanup.
record_id() { "$docker" image inspect -f '{{.Id}}' "$1" >>"$ids_file"; }

# scenario NAME RUNS CHANGED_FILE|"" CLI_TAG SHIPIMG_TAG RECORD(true|false) -- CLI... -- SHIPIMG...
# One warm-up each, then RUNS interleaved pairs. With a file, it is changed before every build
# (untimed), so every build, warm-up included, sees a source change since the previous one.
scenario() {
    local name=$1 n=$2 file=$3 cli_tag=$4 shipimg_tag=$5 record=$6 i tool
    shift 6
    [[ $1 == -- ]] && shift
    local cli=() si=()
    while [[ $1 != -- ]]; do cli+=("$1"); shift; done
    shift
    si=("$@")
    log "== $name: warm-up"
    : >"$work/$name.cli"
    : >"$work/$name.shipimg"
    for tool in cli shipimg; do
        if [[ -n $file ]]; then change "$file"; fi
        if [[ $tool == cli ]]; then
            measure "$work/warm" "${cli[@]}"
            if $record; then record_id "$cli_tag"; fi
        else
            measure "$work/warm" "${si[@]}"
            if $record; then record_id "$shipimg_tag"; fi
        fi
    done
    for ((i = 1; i <= n; i++)); do
        log "== $name: run $i/$n"
        if [[ -n $file ]]; then change "$file"; fi
        measure "$work/$name.cli" "${cli[@]}"
        if $record; then record_id "$cli_tag"; fi
        if [[ -n $file ]]; then change "$file"; fi
        measure "$work/$name.shipimg" "${si[@]}"
        if $record; then record_id "$shipimg_tag"; fi
    done
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cache_start=$("$docker" system df --format '{{.Type}} {{.Size}}' | sed -n 's/^Build Cache //p')

scenarios=()
if [[ $only != large ]]; then
    scenario example-cached "$example_runs" "" bench-cli bench-shipimg false \
        -- "${cli_example[@]}" -- "${shipimg_example[@]}"
    scenario example-changed "$example_runs" "$example_changed" bench-cli bench-shipimg true \
        -- "${cli_example[@]}" -- "${shipimg_example[@]}"
    scenarios+=(example-cached example-changed)
fi
if [[ $only != example ]]; then
    scenario large-cached "$runs" "" bench-large-cli bench-large-shipimg true \
        -- "${cli_large[@]}" -- "${shipimg_large[@]}"
    scenario large-changed "$runs" "$large_changed" bench-large-cli bench-large-shipimg true \
        -- "${cli_large[@]}" -- "${shipimg_large[@]}"
    scenarios+=(large-cached large-changed)
fi

cache_end=$("$docker" system df --format '{{.Type}} {{.Size}}' | sed -n 's/^Build Cache //p')

# --- Report -----------------------------------------------------------------------------------
# Median of the numbers on stdin (of an even count: mean of the middle two).
median() {
    sort -n | awk '{ v[NR] = $1 } END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# "min median max peak_rss_kb median_cpu_s" of a results file.
stats() {
    local med cpu
    med=$(cut -d' ' -f1 "$1" | median)
    cpu=$(awk '{ print $3 + $4 }' "$1" | median)
    sort -n -k1,1 "$1" | awk -v med="$med" -v cpu="$cpu" '
        { t[NR] = $1; if ($2 > rss) rss = $2 }
        END { printf "%.3f %.3f %.3f %d %.3f\n", t[1], med, t[NR], rss, cpu }'
}

declare -A ratio
if [[ -n $totals ]]; then
    echo "Large context: $(sed -n 1p <<<"$totals"); $(sed -n 2p <<<"$totals")."
fi
echo "Engine: Docker $("$docker" version -f '{{.Server.Version}}') (BuildKit) at $DOCKER_HOST; shipimg: $("$shipimg" --version)."
echo
echo "| Scenario | Tool | Runs | Min (s) | Median (s) | Max (s) | shipimg/CLI (medians) | Client CPU s (median) | Client peak RSS (MB) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for name in "${scenarios[@]}"; do
    read -r c_min c_med c_max c_rss c_cpu < <(stats "$work/$name.cli")
    read -r s_min s_med s_max s_rss s_cpu < <(stats "$work/$name.shipimg")
    ratio[$name]=$(awk -v s="$s_med" -v c="$c_med" 'BEGIN { printf "%.2f", s / c }')
    n=$(wc -l <"$work/$name.cli")
    awk -v n="$name" -v r="$n" -v a="$c_min" -v m="$c_med" -v b="$c_max" -v cpu="$c_cpu" -v k="$c_rss" 'BEGIN {
        printf "| %s | `docker build` | %d | %.3f | %.3f | %.3f | | %.2f | %.1f |\n", n, r, a, m, b, cpu, k / 1024 }'
    awk -v n="$name" -v r="$n" -v a="$s_min" -v m="$s_med" -v b="$s_max" -v cpu="$s_cpu" -v k="$s_rss" -v q="${ratio[$name]}" 'BEGIN {
        printf "| %s | `shipimg build` | %d | %.3f | %.3f | %.3f | **%.2fx** | %.2f | %.1f |\n", n, r, a, m, b, q, cpu, k / 1024 }'
done
echo
verdict() { awk -v r="$1" 'BEGIN { print (r <= 1.0) ? "met" : "MISSED" }'; }
if [[ $only != large ]]; then
    echo "- Target, example (shipimg no slower than the CLI): cached ${ratio[example-cached]}x: $(verdict "${ratio[example-cached]}"); changed ${ratio[example-changed]}x: $(verdict "${ratio[example-changed]}")"
fi
if [[ $only != example ]]; then
    echo "- Large context (tar body vs the CLI's file sync; sets the next target): cached ${ratio[large-cached]}x, changed ${ratio[large-changed]}x"
fi
echo "- Build cache on the engine: ${cache_start:-?} before, ${cache_end:-?} after (not pruned)"
echo "- Load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
