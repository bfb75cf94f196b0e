#!/usr/bin/env bash
# Benchmark: `shipimg build` with the context over the session (file sync, the default) side by
# side with the engine's own CLI (`DOCKER_BUILDKIT=1 /usr/bin/docker build`, which also uses file
# sync), through the same engine, on the large context of bench/gen_context.py (~630 MB sent:
# 20,000 small files + 6 x 50 MiB; 5,000 more files excluded by its .dockerignore; a copy of it),
# with a Dockerfile `FROM $SANDBOX_BUSYBOX_IMAGE` + `COPY . /ctx` passed with -f from outside the
# context. Scenarios, each N interleaved runs (CLI, shipimg, CLI, ...):
#   - first: the engine has no copy of the context (the copy is moved to a new path before every
#     build, which changes both tools' shared key) and one file changed (so COPY runs);
#   - cached: nothing changed since the tool's previous build (one untimed warm-up each);
#   - changed: one small source file changed before every build (one untimed warm-up each).
# Also runs `shipimg build --context-transfer tar` for the cached and changed scenarios, for the
# record (not interleaved into the verdict).
# Reports min/median/max wall time, the ratio shipimg/CLI of the medians, and the clients' peak
# RSS and CPU (GNU time). Targets (issue #9): ratios <= 1.0 on all three; shipimg peak RSS < 50 MB.
#
# Usage: bench/sync.sh [--runs N] [--scenarios LIST]
#   --runs N                     interleaved pairs per scenario (default 5)
#   --scenarios LIST             comma-separated subset of first,cached,changed (default: all)
#   SHIPIMG=path/to/shipimg      binary to measure (default: target/release/shipimg)
#   SHIPIMG_BENCH_DIR=dir        where bench/gen_context.py keeps the large context
#                                (default /var/tmp/shipimg-bench; reused if already generated)
#   TMPDIR=dir                   where the copy goes (needs ~0.7 GB; default /var/tmp)
# Needs the sandbox up (fixtures/sandbox.sh up); its environment is read from
# `fixtures/sandbox.sh env` unless SANDBOX_DOCKER is already set.
#
# Prints a markdown table on stdout; progress goes to stderr. Removes its images at the end and
# never prunes the build cache: every "first" and "changed" build adds a ~630 MB layer, and every
# "first" build a ~630 MB copy of the context the engine keeps (about 30 GB for a default run:
# check the free space first, and reclaim it afterwards with `docker builder prune -f` on the
# sandbox engine).
# Do not run it while others build on the same engine (Docker 20.10's BuildKit can panic on
# concurrent builds sharing steps). A benchmark kept in the repo, never run by `cargo test`.

set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
runs=5
scenarios="first cached changed"

usage() { sed -n '2,33s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

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
        --scenarios)
            [[ $# -ge 2 && $2 =~ ^(first|cached|changed)(,(first|cached|changed))*$ ]] \
                || { echo "--scenarios takes a comma-separated list of first, cached, changed" >&2; exit 2; }
            scenarios=${2//,/ }
            shift 2
            ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '%s\n' "$*" >&2; }

# --- Preconditions ----------------------------------------------------------------------------
if [[ -z ${SANDBOX_DOCKER:-} ]]; then
    env_lines=$("$root/fixtures/sandbox.sh" env)
    eval "$env_lines"
fi
"$root/fixtures/sandbox.sh" status >/dev/null \
    || { log "the sandbox is not up: run fixtures/sandbox.sh up"; exit 1; }
: "${DOCKER_HOST:?}" "${SANDBOX_BUSYBOX_IMAGE:?}"
# The engine's own CLI: /usr/bin/docker (20.10, BuildKit built in), never another client on PATH.
docker=${SANDBOX_DOCKER:-/usr/bin/docker}
shipimg=${SHIPIMG:-$root/target/release/shipimg}
shipimg=$(realpath -- "$shipimg" 2>/dev/null) || true
[[ -x $shipimg ]] || { log "no shipimg binary at ${SHIPIMG:-$root/target/release/shipimg} (build it, or set SHIPIMG=)"; exit 1; }
"$shipimg" build --help | grep -q -- '--context-transfer' \
    || { log "$shipimg has no 'build --context-transfer': too old"; exit 1; }
[[ -x /usr/bin/time ]] || { log "/usr/bin/time missing (apt-get install -y time)"; exit 1; }
export DOCKER_BUILDKIT=1

bench_dir=${SHIPIMG_BENCH_DIR:-/var/tmp/shipimg-bench}
mkdir -p "$bench_dir"
log "== generating (or reusing) $bench_dir/ctx"
totals=$(python3 "$here/gen_context.py" "$bench_dir/ctx" --scale 1)
log "$totals"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/shipimg-bench-sync.XXXXXX")
ids_file=$work/ids
: >"$ids_file"
tags=(bench-sync-cli bench-sync-shipimg bench-sync-tar)
# Both tools keep their node id (part of the shared key) under a HOME of the bench's own.
export HOME=$work/home
mkdir -p "$HOME"

cleanup() {
    local id n t
    log "== cleanup: removing the bench images (the build cache is left alone)"
    for t in "${tags[@]}"; do
        "$docker" image rm "$t" >/dev/null 2>&1 || true
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

log "== copying the large context into $work"
ctx=$work/ctx-0
cp -a "$bench_dir/ctx" "$ctx"
changed_rel=$(cd "$ctx" && find app/pkg00/sub000 -maxdepth 1 -name '*.py' | sort | head -n1)
[[ -n $changed_rel ]] || { log "no .py file in $ctx/app/pkg00/sub000"; exit 1; }
mkdir "$work/df"
printf 'FROM %s\nCOPY . /ctx\n' "$SANDBOX_BUSYBOX_IMAGE" >"$work/df/Dockerfile"
token="$$-${EPOCHREALTIME/./}"
counter=0
change() { counter=$((counter + 1)); printf '# bench %s %d\n' "$token" "$counter" >>"$ctx/$changed_rel"; }
# A new path for the context: neither tool's shared key has seen it.
moves=0
move() { moves=$((moves + 1)); mv "$ctx" "$work/ctx-$moves"; ctx=$work/ctx-$moves; }

# Commands as functions of the current $ctx, expanded into arrays at each run.
cmd_cli() { cmd=("$docker" build --progress plain -f "$work/df/Dockerfile" -t bench-sync-cli "$ctx"); }
cmd_shipimg() { cmd=("$shipimg" build "$ctx" -f "$work/df/Dockerfile" -t bench-sync-shipimg --progress plain); }
cmd_tar() { cmd=("$shipimg" build "$ctx" -f "$work/df/Dockerfile" -t bench-sync-tar --progress plain --context-transfer tar); }
tag_of() { case $1 in cli) echo bench-sync-cli ;; shipimg) echo bench-sync-shipimg ;; tar) echo bench-sync-tar ;; esac; }

# measure FILE TOOL: one timed build; appends "wall_s rss_kb user_s sys_s" to FILE.
measure() {
    local out=$1 tool=$2 t0 t1
    "cmd_$tool"
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f "%M %U %S" -o "$work/time" "${cmd[@]}" >"$work/out" 2>&1; then
        log "failed: ${cmd[*]}"
        cat "$work/out" "$work/time" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    "$docker" image inspect -f '{{.Id}}' "$(tag_of "$tool")" >>"$ids_file"
    if [[ $tool != cli ]]; then grep -h 'Context sent' "$work/out" | sed 's/^ */    /' >&2 || true; fi
    printf '%s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
        "$(tail -n1 "$work/time")" | tee -a "$out" | sed "s|^|  ${out##*/}: |" >&2
}

# scenario NAME PREP TOOLS...: PREP (a function) runs untimed before every build.
scenario() {
    local name=$1 prep=$2 i tool
    shift 2
    for tool in "$@"; do : >"$work/$name.$tool"; done
    if [[ $name != first ]]; then
        log "== $name: warm-up"
        for tool in "$@"; do $prep; measure "$work/warm" "$tool"; done
    fi
    for ((i = 1; i <= runs; i++)); do
        log "== $name: run $i/$runs"
        for tool in "$@"; do $prep; measure "$work/$name.$tool" "$tool"; done
    done
}
nothing() { :; }
fresh() { move; change; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
wanted() { [[ " $scenarios " == *" $1 "* ]]; }
if wanted first; then scenario first fresh cli shipimg; fi
if wanted cached; then scenario cached nothing cli shipimg tar; fi
if wanted changed; then scenario changed change cli shipimg tar; fi

# --- Report -----------------------------------------------------------------------------------
median() {
    sort -n | awk '{ v[NR] = $1 } END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
stats() {
    local med cpu
    med=$(cut -d' ' -f1 "$1" | median)
    cpu=$(awk '{ print $3 + $4 }' "$1" | median)
    sort -n -k1,1 "$1" | awk -v med="$med" -v cpu="$cpu" '
        { t[NR] = $1; if ($2 > rss) rss = $2 }
        END { printf "%.3f %.3f %.3f %d %.3f\n", t[1], med, t[NR], rss, cpu }'
}

declare -A ratio
rss_worst=0
echo "Context: $(sed -n 1p <<<"$totals"); $(sed -n 2p <<<"$totals")."
echo "Engine: Docker $("$docker" version -f '{{.Server.Version}}') (BuildKit) at $DOCKER_HOST; CLI: $docker $("$docker" version -f '{{.Client.Version}}'); shipimg: $("$shipimg" --version)."
echo
echo "| Scenario | Tool | Runs | Min (s) | Median (s) | Max (s) | shipimg/CLI (medians) | Client CPU s (median) | Client peak RSS (MB) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for name in $scenarios; do
    read -r c_min c_med c_max c_rss c_cpu < <(stats "$work/$name.cli")
    read -r s_min s_med s_max s_rss s_cpu < <(stats "$work/$name.shipimg")
    ((s_rss > rss_worst)) && rss_worst=$s_rss
    ratio[$name]=$(awk -v s="$s_med" -v c="$c_med" 'BEGIN { printf "%.2f", s / c }')
    awk -v n="$name" -v r="$runs" -v a="$c_min" -v m="$c_med" -v b="$c_max" -v cpu="$c_cpu" -v k="$c_rss" 'BEGIN {
        printf "| %s | `docker build` | %d | %.3f | %.3f | %.3f | | %.2f | %.1f |\n", n, r, a, m, b, cpu, k / 1024 }'
    awk -v n="$name" -v r="$runs" -v a="$s_min" -v m="$s_med" -v b="$s_max" -v cpu="$s_cpu" -v k="$s_rss" -v q="${ratio[$name]}" 'BEGIN {
        printf "| %s | `shipimg build` (sync) | %d | %.3f | %.3f | %.3f | **%.2fx** | %.2f | %.1f |\n", n, r, a, m, b, q, cpu, k / 1024 }'
    if [[ -s $work/$name.tar ]]; then
        read -r t_min t_med t_max t_rss t_cpu < <(stats "$work/$name.tar")
        t_ratio=$(awk -v s="$t_med" -v c="$c_med" 'BEGIN { printf "%.2f", s / c }')
        awk -v n="$name" -v r="$runs" -v a="$t_min" -v m="$t_med" -v b="$t_max" -v cpu="$t_cpu" -v k="$t_rss" -v q="$t_ratio" 'BEGIN {
            printf "| %s | `shipimg build --context-transfer tar` | %d | %.3f | %.3f | %.3f | %.2fx | %.2f | %.1f |\n", n, r, a, m, b, q, cpu, k / 1024 }'
    fi
done
echo
verdict() { awk -v r="$1" 'BEGIN { print (r <= 1.0) ? "met" : "MISSED" }'; }
verdicts=()
for name in $scenarios; do verdicts+=("$name ${ratio[$name]}x: $(verdict "${ratio[$name]}")"); done
echo "- Target (ratios <= 1.0): $(IFS=';'; echo "${verdicts[*]}" | sed 's/;/; /g')"
echo "- Target (shipimg peak RSS < 50 MB with file sync): $(awk -v k="$rss_worst" 'BEGIN { printf "%.1f MB: %s", k / 1024, (k / 1024 < 50) ? "met" : "MISSED" }')"
echo "- Load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
