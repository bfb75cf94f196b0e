#!/usr/bin/env bash
# Benchmark: the leak scan on a real dependency tree (issue 14): `shipimg scan realtree:latest`
# (761 MB, ~34k files: Debian 12, Python 3.11 and ~110 real PyPI wheels; bench/realtree.sh)
# side by side with
#   - the same scan by a second binary, SHIPIMG_BASELINE (optional; e.g. a build without the
#     package evidence, to see what reading every RECORD/md5sums and hashing files costs)
#   - `docker save realtree:latest | cat >/dev/null`   (the bare export stream through the CLI)
# through the same engine. One untimed warm-up per tool, then N interleaved rounds (scan,
# baseline, cat, scan, ...). Reports min/median/max wall time, the ratio of each median to the
# bare stream's, user+sys CPU and peak RSS (GNU time: shipimg's own; for the pipeline, the docker
# CLI doing the save plus cat), the engine's CPU during each run (dockerd's utime+stime from
# /proc, when the dockerd serving DOCKER_HOST runs on this machine), the median per-round
# difference between the two binaries, and each binary's exit code and count of `note:` lines
# under -v (third-party test keys and examples let through). The current binary must exit 0.
#
# Usage: bench/scan-realtree.sh [--runs N]
#   --runs N            interleaved rounds (default 5)
#   SHIPIMG=path        binary to measure (default: target-scan/release/shipimg, built if absent)
#   SHIPIMG_BASELINE=path  a second binary to measure the same way (optional; it may exit 3)
#   REALTREE_IMAGE      image to scan (default realtree:latest, built by bench/realtree.sh
#                       --no-export when missing)
# Needs the sandbox up (fixtures/sandbox.sh up); its environment is read from
# `fixtures/sandbox.sh env` unless SANDBOX_DOCKER is already set. Run it on an otherwise idle
# machine: the engine, the CLI and the scan share the cores. The markdown table goes to stdout,
# progress to stderr. A benchmark kept in the repo, never run by `cargo test`.

set -euo pipefail
export LC_ALL=C NO_COLOR=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
runs=5

while (($#)); do
    case $1 in
        --runs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "--runs needs a positive integer" >&2; exit 2; }
            runs=$2
            shift 2
            ;;
        -h|--help) sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

log() { printf '%s\n' "$*" >&2; }

if [[ -z ${SANDBOX_DOCKER:-} ]]; then
    eval "$("$root/fixtures/sandbox.sh" env)"
fi
[[ -x /usr/bin/time ]] || { log "/usr/bin/time missing (apt-get install -y time)"; exit 1; }
docker=$SANDBOX_DOCKER
image=${REALTREE_IMAGE:-realtree:latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$docker" image inspect "$image" >/dev/null 2>&1; then
    log "building $image with bench/realtree.sh --no-export (once)"
    REALTREE_IMAGE=$image "$here/realtree.sh" --no-export
fi
shipimg=${SHIPIMG:-$root/target-scan/release/shipimg}
if [[ -z ${SHIPIMG:-} && ! -x $shipimg ]]; then
    log "building $shipimg"
    (cd "$root" && CARGO_TARGET_DIR="$root/target-scan" cargo build --release -q)
fi
shipimg=$(realpath "$shipimg")
baseline=${SHIPIMG_BASELINE:+$(realpath "$SHIPIMG_BASELINE")}
tools=(scan)
[[ -n $baseline ]] && tools+=(base)
tools+=(cat)
bin_of() { case $1 in scan) echo "$shipimg" ;; base) echo "$baseline" ;; esac; }

# The scans run from an empty directory, so no project config (scan-allow) is picked up.
cd "$work"

# Once per binary, untimed: the exit code, the notes under -v, the summary line.
for tool in "${tools[@]}"; do
    [[ $tool == cat ]] && continue
    rc=0
    "$(bin_of "$tool")" -v scan "$image" >"$work/$tool.out" 2>"$work/$tool.err" || rc=$?
    echo "$rc" >"$work/$tool.rc"
    grep -c '^note:' "$work/$tool.err" >"$work/$tool.notes" || true
    if [[ $tool == scan && $rc != 0 ]]; then
        tail -n 20 "$work/$tool.err" >&2
        log "\`$shipimg scan $image\` exited $rc (expected 0: the image holds no secret)"
        exit 1
    fi
    if ((rc != 0 && rc != 3)); then
        tail -n 20 "$work/$tool.err" >&2
        log "\`$(bin_of "$tool") scan\` does not work (exit $rc)"
        exit 1
    fi
    log "$tool: exit $rc, $(cat "$work/$tool.notes") notes"
done

size=$("$docker" image inspect -f '{{.Size}}' "$image")
summary=$(grep -oE '[0-9]+ layers, [0-9]+ files' "$work/scan.err" | head -n1 || true)
log "$image: $size bytes; ${summary:-no summary line}"

# The engine's CPU (user+sys, clock ticks), when its dockerd runs here; "-" otherwise.
engine_pid=$(pgrep -of -- "dockerd --host $DOCKER_HOST( |\$)" || true)
hz=$(getconf CLK_TCK)
ticks() {
    if [[ -n $engine_pid && -r /proc/$engine_pid/stat ]]; then
        awk '{print $14 + $15}' "/proc/$engine_pid/stat"
    else
        echo -
    fi
}
engine_s() { if [[ $1 == - || $2 == - ]]; then echo -; else echo "scale=2; ($2 - $1) / $hz" | bc; fi; }
if [[ -n $engine_pid ]]; then log "engine: dockerd pid $engine_pid"; else log "engine: no dockerd for $DOCKER_HOST on this machine, no engine CPU"; fi

# One run: wall seconds from $EPOCHREALTIME around the command; user, sys (s) and peak RSS (KB)
# from GNU time. Appends "wall user+sys rss engine_cpu" to $work/$2.
run_scan() {
    local tool=$1 rc=0
    local e0 e1 t0 t1
    e0=$(ticks)
    t0=$EPOCHREALTIME
    /usr/bin/time -f "%U %S %M" -o "$work/t.scan" "$(bin_of "$tool")" -q scan "$image" \
        >/dev/null 2>"$work/err" || rc=$?
    t1=$EPOCHREALTIME
    e1=$(ticks)
    if [[ $rc != "$(cat "$work/$tool.rc")" ]]; then
        cat "$work/err" >&2
        log "$tool: exit $rc, was $(cat "$work/$tool.rc") before"
        exit 1
    fi
    read -r u s m < <(tail -n1 "$work/t.scan")
    echo "$(echo "$t1 - $t0" | bc) $(echo "$u + $s" | bc) $m $(engine_s "$e0" "$e1")" >>"$work/$2"
}
# The pipeline: CPU is the docker CLI's plus cat's; RSS is the CLI's (cat's is ~1.5 MB).
run_cat() {
    local e0 e1 t0 t1
    e0=$(ticks)
    t0=$EPOCHREALTIME
    /usr/bin/time -f "%U %S %M" -o "$work/t.save" "$docker" save "$image" \
        | /usr/bin/time -f "%U %S %M" -o "$work/t.cons" cat >/dev/null
    t1=$EPOCHREALTIME
    e1=$(ticks)
    read -r u1 s1 m1 < <(tail -n1 "$work/t.save")
    read -r u2 s2 _ < <(tail -n1 "$work/t.cons")
    echo "$(echo "$t1 - $t0" | bc) $(echo "$u1 + $s1 + $u2 + $s2" | bc) $m1 $(engine_s "$e0" "$e1")" >>"$work/$1"
}
run() { if [[ $1 == cat ]]; then run_cat "$2"; else run_scan "$1" "$2"; fi; }

log "warm-up"
for tool in "${tools[@]}"; do run "$tool" "$tool.warm"; done
for ((i = 1; i <= runs; i++)); do
    log "round $i/$runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    for tool in "${tools[@]}"; do run "$tool" "$tool"; done
done

# min median max of column $2 in file $1
stats() { cut -d' ' -f"$2" "$1" | sort -g | awk '{a[NR]=$1} END {print a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { stats "$1" "$2" | cut -d' ' -f2; }
f2() { printf '%.2f' "$1"; }
base=$(median "$work/cat" 1)

echo "image: \`$image\`, $size bytes${summary:+ ($summary)}; $runs interleaved rounds after one warm-up each; $(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | wall min / median / max (s) | median / \`docker save \\| cat\` | user+sys CPU, median (s) | engine CPU, median (s) | peak RSS, max (KB) | exit | notes (-v) |"
echo "|---|---|---|---|---|---|---|---|"
for tool in "${tools[@]}"; do
    read -r lo med hi < <(stats "$work/$tool" 1)
    cpu=$(median "$work/$tool" 2)
    rss=$(stats "$work/$tool" 3 | cut -d' ' -f3)
    case $tool in
        scan) name="\`shipimg scan\` (\`$shipimg\`)"; rc=$(cat "$work/scan.rc"); notes=$(cat "$work/scan.notes") ;;
        base) name="\`shipimg scan\`, baseline (\`$baseline\`)"; rc=$(cat "$work/base.rc"); notes=$(cat "$work/base.notes") ;;
        cat) name="\`docker save \\| cat >/dev/null\` (bare stream)"; rc=; notes= ;;
    esac
    ratio=$(f2 "$(echo "scale=4; $med / $base" | bc)")
    [[ $tool == cat ]] && cpu="$(f2 "$cpu") (docker CLI + cat)" || cpu=$(f2 "$cpu")
    [[ $tool == cat ]] && rss="$rss (docker CLI)"
    eng=$(median "$work/$tool" 4)
    [[ $eng == - ]] || eng=$(f2 "$eng")
    echo "| $name | $(f2 "$lo") / $(f2 "$med") / $(f2 "$hi") | ${ratio}x | $cpu | $eng | $rss | $rc | $notes |"
done

if [[ -n $baseline ]]; then
    # Per-round differences (the rounds are interleaved, so each pair saw the same machine).
    paste -d' ' "$work/scan" "$work/base" \
        | awk '{print $1 - $5, $2 - $6}' >"$work/diff"
    read -r dwlo dwmed dwhi < <(stats "$work/diff" 1)
    read -r dclo dcmed dchi < <(stats "$work/diff" 2)
    echo
    echo "current - baseline, per round: wall min / median / max $(f2 "$dwlo") / $(f2 "$dwmed") / $(f2 "$dwhi") s;" \
        "user+sys CPU $(f2 "$dclo") / $(f2 "$dcmed") / $(f2 "$dchi") s" \
        "(medians: $(f2 "$(median "$work/scan" 2)") vs $(f2 "$(median "$work/base" 2)") s CPU)"
fi
