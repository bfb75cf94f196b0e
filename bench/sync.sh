#!/usr/bin/env bash
# Benchmark: `shipimg build` with the context over the session (file sync, the default) side by
# side with the engine's own CLI (`DOCKER_BUILDKIT=1 /usr/bin/docker build`, which also uses file
# sync), through the same engine, on the large context of bench/gen_context.py (~630 MB sent:
# 20,000 small files + 6 x 50 MiB; 5,000 more files excluded by its .dockerignore; a copy of it),
# with a Dockerfile `FROM $SANDBOX_BUSYBOX_IMAGE` + `COPY . /ctx` passed with -f from outside the
# context. Scenarios, each N interleaved runs (reference client, shipimg, reference, ...):
#   - first: the engine has no copy of the context (the copy is moved to a new path before every
#     build, which changes both tools' shared key) and one file changed (so COPY runs);
#   - cached: nothing changed since the tool's previous build (one untimed warm-up each);
#   - changed: one small source file changed before every build (one untimed warm-up each).
# Also runs `shipimg build --context-transfer tar` for the cached and changed scenarios, for the
# record (not interleaved into the verdict).
# Reports min/median/max wall time, the ratio shipimg/CLI of the medians, and the clients' peak
# RSS and CPU (GNU time), and what shipimg's `Context sent` line said in each scenario. Targets
# (issue #9): ratios <= 1.0 on all three; shipimg peak RSS < 50 MB.
#
# With --reference buildx (issue #15) the reference client is the standalone `docker buildx build`
# of the sandbox (SANDBOX_BUILDX, its docker driver, a throwaway DOCKER_CONFIG) on the engine
# `fixtures/sandbox.sh env` names with SHIPIMG_SANDBOX_ENGINE (default there: modern, i.e. Docker 28
# with the containerd store), and --prune is implied. Targets (issue #15): cached <= 0.5x, first
# and changed <= 1.0x, shipimg peak RSS < 50 MB.
#
# Usage: bench/sync.sh [--runs N] [--scenarios LIST] [--reference cli|buildx] [--prune] [--no-tar]
#                     [--alternate]
#   --runs N                     interleaved pairs per scenario (default 5)
#   --scenarios LIST             comma-separated subset of first,cached,changed (default: all)
#   --reference cli|buildx       the client shipimg is compared with (default cli: the engine's
#                                own `DOCKER_BUILDKIT=1 docker build`)
#   --prune                      before every scenario, remove the bench images and prune the
#                                engine's whole build cache (`builder prune -af`, or `buildx
#                                prune -af` with buildx), also before every "first" pair; before
#                                every "changed" pair, remove the images and layers earlier
#                                builds left (the engine's context copies stay); stop if less
#                                than SHIPIMG_BENCH_MIN_FREE_GB (default 12) GB are then free for
#                                the engine's data root or the copy
#   --no-tar                     skip the `--context-transfer tar` runs
#   --alternate                  shipimg goes first in every other pair (default: the reference
#                                client always first), so that neither tool always meets the
#                                engine right after a prune or after the other tool's build
#   SHIPIMG=path/to/shipimg      binary to measure (default: target/release/shipimg)
#   SHIPIMG_BENCH_DIR=dir        where bench/gen_context.py keeps the large context
#                                (default /var/tmp/shipimg-bench; reused if already generated)
#   TMPDIR=dir                   where the copy goes (needs ~0.7 GB; default /var/tmp)
# Needs the sandbox up (fixtures/sandbox.sh up); its environment is read from
# `fixtures/sandbox.sh env` unless SANDBOX_DOCKER (with buildx: SANDBOX_BUILDX) is already set.
#
# Prints a markdown table on stdout; progress goes to stderr. Removes its images at the end and,
# without --prune, never prunes the build cache: every "first" and "changed" build adds a ~630 MB
# layer, and every "first" build a ~630 MB copy of the context the engine keeps (about 30 GB for a
# default run: check the free space first, and reclaim it afterwards with `docker builder prune
# -f` on the sandbox engine). With --prune it prunes the whole build cache of the engine before
# every scenario and at the end (hold the engine for the whole run).
# Do not run it while others build on the same engine (Docker 20.10's BuildKit can panic on
# concurrent builds sharing steps). A benchmark kept in the repo, never run by `cargo test`.

set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
runs=5
scenarios="first cached changed"

usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
reference=cli
prune=0
tar_runs=1
alternate=0

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
        --reference | --reference=*)
            if [[ $1 == --reference ]]; then
                [[ $# -ge 2 ]] || { echo "--reference takes cli or buildx" >&2; exit 2; }
                reference=$2
                shift 2
            else
                reference=${1#--reference=}
                shift
            fi
            [[ $reference == cli || $reference == buildx ]] || { echo "--reference takes cli or buildx" >&2; exit 2; }
            ;;
        --prune) prune=1; shift ;;
        --no-tar) tar_runs=0; shift ;;
        --alternate) alternate=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '%s\n' "$*" >&2; }

# --- Preconditions ----------------------------------------------------------------------------
if [[ $reference == buildx ]]; then
    prune=1
    if [[ -z ${SANDBOX_BUILDX:-} ]]; then
        env_lines=$(SHIPIMG_SANDBOX_ENGINE=${SHIPIMG_SANDBOX_ENGINE:-modern} "$root/fixtures/sandbox.sh" env)
        eval "$env_lines"
    fi
elif [[ -z ${SANDBOX_DOCKER:-} ]]; then
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
if [[ $reference == buildx ]]; then
    buildx=${SANDBOX_BUILDX:?}
    [[ -x $buildx ]] || { log "no docker-buildx at $buildx (fixtures/sandbox.sh up fetches it)"; exit 1; }
    ref_label='`docker buildx build`'
    ref_short=buildx
    ref_tag=bench-sync-buildx
else
    ref_label='`docker build`'
    ref_short=CLI
    ref_tag=bench-sync-cli
fi
min_free_gb=${SHIPIMG_BENCH_MIN_FREE_GB:-12}

bench_dir=${SHIPIMG_BENCH_DIR:-/var/tmp/shipimg-bench}
mkdir -p "$bench_dir"
log "== generating (or reusing) $bench_dir/ctx"
totals=$(python3 "$here/gen_context.py" "$bench_dir/ctx" --scale 1)
log "$totals"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/shipimg-bench-sync.XXXXXX")
ids_file=$work/ids
: >"$ids_file"
tags=("$ref_tag" bench-sync-shipimg bench-sync-tar)
# Both tools keep their node id (part of the shared key) under a HOME of the bench's own; buildx
# keeps its own under a throwaway DOCKER_CONFIG.
export HOME=$work/home
mkdir -p "$HOME"
if [[ $reference == buildx ]]; then
    export DOCKER_CONFIG=$work/docker-config
    mkdir -p "$DOCKER_CONFIG"
fi
data_root=$("$docker" info -f '{{.DockerRootDir}}')

remove_images() {
    local id n t
    for t in "${tags[@]}"; do
        "$docker" image rm "$t" >/dev/null 2>&1 || true
    done
    if [[ -s $ids_file ]]; then
        sort -u "$ids_file" | while read -r id; do
            n=$("$docker" image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null) || continue
            if [[ $n == 0 ]]; then "$docker" image rm "$id" >/dev/null 2>&1 || true; fi
        done
    fi
}
# free_gb PATH: whole GB available on PATH's file system.
free_gb() { df -P -BG "$1" | awk 'NR == 2 { sub(/G$/, "", $4); print $4 }'; }
check_disk() {
    local d f
    for d in "$data_root" "$work"; do
        f=$(free_gb "$d")
        log "   free: ${f} GB for $d"
        if ((f < min_free_gb)); then
            log "only ${f} GB free for $d (SHIPIMG_BENCH_MIN_FREE_GB=$min_free_gb): stopping"
            exit 1
        fi
    done
}
# The CLI of Docker 23+ runs `builder prune` through the buildx plugin, which the unpacked CLI of
# the sandbox does not find: use the buildx binary itself where there is one.
prune_cache() {
    if [[ $reference == buildx ]]; then "$buildx" prune -af; else "$docker" builder prune -af; fi
}
# Before a "changed" pair (--prune): every changed build leaves a ~1 GB layer and image that no
# later build uses; drop them (the bench images and the build cache's regular records), keeping
# the engine's copies of the context (source.local), which is what a changed build starts from.
tidy_engine() {
    log "== tidying: bench images, then the build cache's layers (the context copies stay)"
    remove_images
    if [[ $reference == buildx ]]; then
        "$buildx" prune -af --filter type=regular
    else
        "$docker" builder prune -af --filter type=regular
    fi 2>&1 | tail -n1 | sed 's/^/   /' >&2
    check_disk
}
# Before a scenario (--prune): no bench image and an empty build cache on the engine.
prune_engine() {
    log "== pruning: bench images, then the engine's build cache"
    remove_images
    prune_cache 2>&1 | tail -n1 | sed 's/^/   /' >&2
    check_disk
}

cleanup() {
    if ((prune)); then
        log "== cleanup: removing the bench images and pruning the build cache"
        remove_images
        prune_cache >/dev/null 2>&1 || true
    else
        log "== cleanup: removing the bench images (the build cache is left alone)"
        remove_images
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
cmd_ref() {
    if [[ $reference == buildx ]]; then
        cmd=("$buildx" build --progress plain -f "$work/df/Dockerfile" -t "$ref_tag" "$ctx")
    else
        cmd=("$docker" build --progress plain -f "$work/df/Dockerfile" -t "$ref_tag" "$ctx")
    fi
}
cmd_shipimg() { cmd=("$shipimg" build "$ctx" -f "$work/df/Dockerfile" -t bench-sync-shipimg --progress plain); }
cmd_tar() { cmd=("$shipimg" build "$ctx" -f "$work/df/Dockerfile" -t bench-sync-tar --progress plain --context-transfer tar); }
tag_of() { case $1 in ref) echo "$ref_tag" ;; shipimg) echo bench-sync-shipimg ;; tar) echo bench-sync-tar ;; esac; }

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
    if [[ $tool != ref ]]; then
        grep -h 'Context sent' "$work/out" | sed 's/^ *//' | tee -a "$out.sent" | sed 's/^/    /' >&2 || true
    fi
    printf '%s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
        "$(tail -n1 "$work/time")" | tee -a "$out" | sed "s|^|  ${out##*/}: |" >&2
}

# scenario NAME PREP TOOLS...: PREP (a function) runs untimed before every build.
scenario() {
    local name=$1 prep=$2 i tool order
    shift 2
    for tool in "$@"; do : >"$work/$name.$tool"; : >"$work/$name.$tool.sent"; done
    if ((prune)); then prune_engine; fi
    if [[ $name != first ]]; then
        log "== $name: warm-up"
        for tool in "$@"; do $prep; measure "$work/warm" "$tool"; done
    fi
    for ((i = 1; i <= runs; i++)); do
        log "== $name: run $i/$runs"
        # Every first build leaves ~2 GB on the engine: with --prune each pair starts empty.
        if [[ $name == first ]] && ((prune)) && ((i > 1)); then prune_engine; fi
        if [[ $name == changed ]] && ((prune)); then tidy_engine; fi
        order=("$@")
        if ((alternate && i % 2 == 0)); then
            order=()
            for tool in "$@"; do order=("$tool" "${order[@]}"); done
        fi
        for tool in "${order[@]}"; do $prep; measure "$work/$name.$tool" "$tool"; done
    done
}
nothing() { :; }
fresh() { move; change; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
wanted() { [[ " $scenarios " == *" $1 "* ]]; }
tar_tool=()
if ((tar_runs)); then tar_tool=(tar); fi
if wanted first; then scenario first fresh ref shipimg; fi
if wanted cached; then scenario cached nothing ref shipimg "${tar_tool[@]}"; fi
if wanted changed; then scenario changed change ref shipimg "${tar_tool[@]}"; fi

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
server=$("$docker" version -f '{{.Server.Version}}')
if [[ $reference == buildx ]]; then
    store=classic
    if "$docker" info -f '{{json .DriverStatus}}' | grep -q 'io.containerd.snapshotter'; then store=containerd; fi
    bk=$("$buildx" inspect 2>/dev/null | awk -F': *' '/^BuildKit version/ { print $2; exit }')
    echo "Engine: Docker $server ($store image store, storage driver $("$docker" info -f '{{.Driver}}'), BuildKit ${bk:-?}) at $DOCKER_HOST; reference: $buildx ($("$buildx" version | cut -d' ' -f1,2), docker driver); shipimg: $("$shipimg" --version)."
else
    echo "Engine: Docker $server (BuildKit) at $DOCKER_HOST; CLI: $docker $("$docker" version -f '{{.Client.Version}}'); shipimg: $("$shipimg" --version)."
fi
echo
echo "| Scenario | Tool | Runs | Min (s) | Median (s) | Max (s) | shipimg/$ref_short (medians) | Client CPU s (median) | Client peak RSS (MB) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for name in $scenarios; do
    read -r c_min c_med c_max c_rss c_cpu < <(stats "$work/$name.ref")
    read -r s_min s_med s_max s_rss s_cpu < <(stats "$work/$name.shipimg")
    ((s_rss > rss_worst)) && rss_worst=$s_rss
    ratio[$name]=$(awk -v s="$s_med" -v c="$c_med" 'BEGIN { printf "%.2f", s / c }')
    awk -v n="$name" -v r="$runs" -v a="$c_min" -v m="$c_med" -v b="$c_max" -v cpu="$c_cpu" -v k="$c_rss" -v l="$ref_label" 'BEGIN {
        printf "| %s | %s | %d | %.3f | %.3f | %.3f | | %.2f | %.1f |\n", n, l, r, a, m, b, cpu, k / 1024 }'
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
# The targets: issue #9's against the CLI; issue #15's against buildx (cached <= 0.5x).
limit_of() { if [[ $reference == buildx && $1 == cached ]]; then echo 0.5; else echo 1.0; fi; }
verdict() { awk -v r="$1" -v l="$2" 'BEGIN { print (r <= l) ? "met" : "MISSED" }'; }
verdicts=()
for name in $scenarios; do
    verdicts+=("$name ${ratio[$name]}x (<= $(limit_of "$name")x): $(verdict "${ratio[$name]}" "$(limit_of "$name")")")
done
echo "- Targets: $(IFS=';'; echo "${verdicts[*]}" | sed 's/;/; /g')"
echo "- Target (shipimg peak RSS < 50 MB with file sync): $(awk -v k="$rss_worst" 'BEGIN { printf "%.1f MB: %s", k / 1024, (k / 1024 < 50) ? "met" : "MISSED" }')"
# What shipimg's own `Context sent` line said (timed runs only), per scenario.
for name in $scenarios; do
    for tool in shipimg tar; do
        [[ -s $work/$name.$tool.sent ]] || continue
        echo "- shipimg $([[ $tool == tar ]] && echo '--context-transfer tar' || echo '(sync)'), $name: $(sed -E 's/^Context +//' "$work/$name.$tool.sent" | sort | uniq -c | awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%s%s (%dx)", (NR > 1 ? "; " : ""), $0, n }')"
    done
done
echo "- Load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
