#!/usr/bin/env bash
# Benchmark: context staging throughput and peak memory of `shipimg context --output -`,
# side by side with GNU tar archiving the very same entries.
#
# Targets (from the issue): wall time <= 1.3x GNU tar's; peak RSS < 50 MB whatever the size
# of the context.
#
# Usage: bench/context.sh [--runs N] [--generate-only]
#   SHIPIMG=path/to/shipimg      binary to measure (default: target/release/shipimg)
#   SHIPIMG_BENCH_DIR=dir        where the generated contexts live (default /var/tmp/shipimg-bench;
#                                needs ~2.1 GB: ~0.7 GB for the context, ~1.4 GB for the 2x one)
#
# Prints a markdown table on stdout; progress goes to stderr.
# This is a benchmark kept in the repo, not a test: it is never run by `cargo test`.

set -euo pipefail
# Decimal point in $EPOCHREALTIME and printf, whatever the caller's locale.
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
runs=5
generate_only=false

usage() { sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

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
        --generate-only) generate_only=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

bench_dir=${SHIPIMG_BENCH_DIR:-/var/tmp/shipimg-bench}
shipimg=${SHIPIMG:-$root/target/release/shipimg}
ctx=$bench_dir/ctx
ctx2=$bench_dir/ctx2x

log() { printf '%s\n' "$*" >&2; }

# --- 1. Contexts ------------------------------------------------------------------------------
# Idempotent: the generator skips a context whose marker (ctx.done) matches its parameters.
mkdir -p "$bench_dir"
log "== generating (or reusing) $ctx"
totals=$(python3 "$here/gen_context.py" "$ctx" --scale 1)
log "$totals"
log "== generating (or reusing) $ctx2 (2x, for the flat-memory check)"
totals2=$(python3 "$here/gen_context.py" "$ctx2" --scale 2)
log "$totals2"
if $generate_only; then
    exit 0
fi

# --- Preconditions ----------------------------------------------------------------------------
[[ -x $shipimg ]] || { log "no shipimg binary at $shipimg (build it, or set SHIPIMG=)"; exit 1; }
"$shipimg" context --help | grep -q -- '--output' \
    || { log "$shipimg has no 'context --output': too old"; exit 1; }
# GNU tar specifically: the list options below are GNU's.
tar --version | head -n1 | grep -q 'GNU tar' || { log "tar is not GNU tar"; exit 1; }
[[ -x /usr/bin/time ]] || { log "/usr/bin/time missing (apt-get install -y time)"; exit 1; }
command -v fincore >/dev/null || { log "fincore missing (apt-get install -y util-linux)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Measure a private copy: a rebuild of target/ during the run must not swap the binary
# between runs.
mkdir "$work/bin"
cp "$shipimg" "$work/bin/shipimg"
shipimg_id="$("$shipimg" --version) (sha256 $(sha256sum "$work/bin/shipimg" | cut -c1-12))"
shipimg=$work/bin/shipimg

# The two commands under test. Both write to a pipe drained by `cat`, so both pay the same
# pipe cost and neither can take a shortcut for /dev/null (GNU tar does skip reading file
# data when its output is literally /dev/null).
# Arrays, not functions: /usr/bin/time runs a program, it cannot run a shell function.
shipimg_cmd=("$shipimg" context "$ctx" --output -)
shipimg2x_cmd=("$shipimg" context "$ctx2" --output -)
# --no-recursion: the list already names every directory and file, in shipimg's order, so
# GNU tar archives the same entries and does not re-walk directories (or re-add excluded
# files). --verbatim-files-from: a name starting with '-' is a name, not an option.
gnutar_cmd=(tar -C "$ctx" --no-recursion --verbatim-files-from -cf - -T "$work/list")

# --- 2. The file set both archive -------------------------------------------------------------
log "== listing what shipimg sends"
"${shipimg_cmd[@]}" 2>"$work/stderr" | tar -t >"$work/list" || { cat "$work/stderr" >&2; exit 1; }
log "$(wc -l <"$work/list") entries"

# Same entry names in the same order? Compare GNU tar's listing of both archives.
# Trailing '/' is dropped: GNU tar writes directory names with one; the tar crate may not.
"${gnutar_cmd[@]}" | tar -t | sed 's:/$::' >"$work/list.gnutar"
sed 's:/$::' "$work/list" >"$work/list.shipimg"
if cmp -s "$work/list.shipimg" "$work/list.gnutar"; then
    check="same $(wc -l <"$work/list.shipimg") entry names in the same order in both archives"
else
    check="MISMATCH between the archives' entry lists (first difference below)"
    diff "$work/list.shipimg" "$work/list.gnutar" | head -n 5 >&2 || true
fi
log "check: $check"

# Other load skews wall times (2-core machines especially): record it so readers can judge.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 3. Measurements --------------------------------------------------------------------------
# One run: wall seconds from bash's $EPOCHREALTIME (microseconds, no fork) around the whole
# pipeline, and peak RSS (KB) of the producer from GNU time. The producer cannot finish before
# `cat` has drained all but the last pipe buffer, so the pipeline's wall time is its time.
# Appends "seconds rss_kb" to file $1; the rest is the command.
measure() {
    local out=$1 t0 t1
    shift
    t0=$EPOCHREALTIME
    # stderr to a file: shipimg prints its context summary there on every run; shown on failure.
    if ! /usr/bin/time -f "%M %U %S" -o "$work/rss" "$@" 2>"$work/stderr" | cat >/dev/null; then
        log "failed: $*"
        cat "$work/stderr" "$work/rss" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    # "wall_s rss_kb user_s sys_s"; CPU seconds too, as they are less sensitive than wall time
    # to other load on the machine.
    printf '%s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
        "$(tail -n1 "$work/rss")" | tee -a "$out" | sed "s|^|  ${out##*/}: |" >&2
}

# Percentage of the sent files' pages that are in the page cache (fincore, util-linux): logged
# before each timed run, since on VMs and busy machines the kernel may evict the context between
# runs, and a run that reads from disk is not measuring archiving. Excludes mirror the
# generated .dockerignore.
resident_pct() {
    find "$1" -type f -not -path "$1/node_modules/*" -not -name '*.pyc' -print0 \
        | xargs -0 fincore -b -n -o RES,SIZE \
        | awk '{ res += $1; size += int(($2 + 4095) / 4096) * 4096 } END { printf "%.1f\n", 100 * res / size }'
}
# Lowest residency seen before a timed run, per context.
min_res=100
min_res2=100
note_residency() { # ctx var_name
    local pct
    pct=$(resident_pct "$1")
    log "  page cache: $pct% of $1 resident"
    if awk -v p="$pct" -v m="${!2}" 'BEGIN { exit !(p < m) }'; then
        printf -v "$2" '%s' "$pct"
    fi
}

# Warm the page cache (and let the list reach the dentry cache) with one untimed run each, so
# the runs measure archiving, not the disk.
log "== warm-up"
measure "$work/warm" "${shipimg_cmd[@]}"
measure "$work/warm" "${gnutar_cmd[@]}"

# Interleaved (A B A B ...) so that drift in machine load hits both alike.
: >"$work/shipimg"
: >"$work/gnutar"
for ((i = 1; i <= runs; i++)); do
    log "== run $i/$runs"
    note_residency "$ctx" min_res
    measure "$work/shipimg" "${shipimg_cmd[@]}"
    note_residency "$ctx" min_res
    measure "$work/gnutar" "${gnutar_cmd[@]}"
done

# Peak memory on a context twice the size: it must stay flat.
log "== 2x context: warm-up + $runs runs"
measure "$work/warm" "${shipimg2x_cmd[@]}"
: >"$work/shipimg2x"
for ((i = 1; i <= runs; i++)); do
    note_residency "$ctx2" min_res2
    measure "$work/shipimg2x" "${shipimg2x_cmd[@]}"
done

# --- 4. Report --------------------------------------------------------------------------------
# Bytes sent: the tar's own size (what goes over the wire), measured once.
tar_bytes=$("${shipimg_cmd[@]}" 2>/dev/null | wc -c)
tar_bytes2=$("${shipimg2x_cmd[@]}" 2>/dev/null | wc -c)

# Median of the numbers on stdin (of an even count: mean of the middle two).
median() {
    sort -n | awk '{ v[NR] = $1 } END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# "min median max maxrss_kb median_cpu_s" of a results file.
stats() {
    local med cpu
    med=$(cut -d' ' -f1 "$1" | median)
    cpu=$(awk '{ print $3 + $4 }' "$1" | median)
    sort -n -k1,1 "$1" | awk -v med="$med" -v cpu="$cpu" '
        { t[NR] = $1; if ($2 > rss) rss = $2 }
        END { printf "%.3f %.3f %.3f %d %.3f\n", t[1], med, t[NR], rss, cpu }'
}
read -r s_min s_med s_max s_rss s_cpu < <(stats "$work/shipimg")
read -r g_min g_med g_max g_rss g_cpu < <(stats "$work/gnutar")
read -r d_min d_med d_max d_rss d_cpu < <(stats "$work/shipimg2x")

row() { # label runs min med max rss_kb bytes cpu
    awk -v l="$1" -v n="$2" -v a="$3" -v m="$4" -v b="$5" -v r="$6" -v by="$7" -v c="$8" 'BEGIN {
        printf "| %s | %s | %.3f | %.3f | %.3f | %.0f | %.2f | %.1f |\n", l, n, a, m, b, by / m / 1e6, c, r / 1024
    }'
}
ratio=$(awk -v s="$s_med" -v g="$g_med" 'BEGIN { printf "%.2f", s / g }')
time_ok=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.3) ? "met" : "MISSED" }')
rss_worst=$(( s_rss > d_rss ? s_rss : d_rss ))
rss_ok=$(awk -v k="$rss_worst" 'BEGIN { print (k / 1024 < 50) ? "met" : "MISSED" }')

echo "Binary: $shipimg_id; $(tar --version | head -n1)."
echo "Context: $(sed -n 1p <<<"$totals"); $(sed -n 2p <<<"$totals"); tar stream $(awk -v b="$tar_bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB."
echo "2x context: $(sed -n 1p <<<"$totals2"); tar stream $(awk -v b="$tar_bytes2" 'BEGIN { printf "%.1f", b / 1e6 }') MB."
echo
echo "| Command (into \`\\| cat >/dev/null\`, warm cache) | Runs | Min (s) | Median (s) | Max (s) | MB/s (median) | CPU s (median) | Peak RSS (MB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row "\`shipimg context --output -\`" "$runs" "$s_min" "$s_med" "$s_max" "$s_rss" "$tar_bytes" "$s_cpu"
row "GNU tar \`--no-recursion -cf - -T list\`" "$runs" "$g_min" "$g_med" "$g_max" "$g_rss" "$tar_bytes" "$g_cpu"
row "\`shipimg context --output -\`, 2x context" "$runs" "$d_min" "$d_med" "$d_max" "$d_rss" "$tar_bytes2" "$d_cpu"
echo
cpu_ratio=$(awk -v s="$s_cpu" -v g="$g_cpu" 'BEGIN { printf "%.2f", s / g }')
echo "- Time: shipimg / GNU tar (median wall) = **${ratio}x** (target <= 1.3x): $time_ok; CPU (user+sys) ratio ${cpu_ratio}x"
echo "- Memory: shipimg peak RSS $(awk -v k="$s_rss" 'BEGIN { printf "%.1f", k / 1024 }') MB, $(awk -v k="$d_rss" 'BEGIN { printf "%.1f", k / 1024 }') MB on the 2x context (target < 50 MB): $rss_ok"
echo "- Check: $check"
echo "- Page cache before timed runs: at least $min_res% of the context resident ($min_res2% of the 2x one)"
echo "- Load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
