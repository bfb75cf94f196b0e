#!/usr/bin/env bash
# Benchmark: "edit one source file, rebuild" with the Dockerfile `shipimg init` writes for a pip
# project (setuptools, PEP 621), against the template init wrote before dependencies got a layer
# of their own, and against the same project with no dependencies at all (the floor).
#
# Two dependency sets, pinned to the versions of fixtures/realtree/requirements.txt (the wheels
# the sandbox index serves):
#   handful  flask, requests, boto3, pydantic, sqlalchemy
#   dozens   every top-level package of fixtures/realtree/requirements.in the index serves
# For each set, three copies of one generated project (package bench_service, CMD from init):
#   new    `shipimg init` of the binary under test
#   old    the same project with bench/fixtures/old-pip.Dockerfile (main's template before the
#          change: one stage that does `COPY . .` then `pip install .`) filled in by hand
#   floor  the same project with `dependencies = []`, `shipimg init` of the binary under test
# Each variant gets M cold first builds (old, new, floor each round; `--no-cache`, and a cache-mount
# id no earlier build used), one untimed warm-up rebuild, then N rounds of old, new, floor: rewrite
# bench_service/__init__.py with a new token, `shipimg build` (no push), time it. Counted per
# build: the index's dependency requests in $SANDBOX_INDEX_LOG (`GET .../simple/NAME/` and
# `.../packages/...`; the `/simple/` root is shipimg's own preflight), and the 1-minute load.
# At the end each variant's image is run (`--network none`) and must print the last token.
#
# Targets (issue 17), at both sizes: rebuild new/old <= 0.25x, rebuild new/floor <= 1.3x, first
# build new/old <= 1.2x (medians).
#
# Usage: bench/init-rebuild.sh [--runs N] [--cold-runs M] [--only handful|dozens]
#   --runs N                  rebuild rounds per size (default 5)
#   --cold-runs M             cold first-build rounds per size (default 1)
#   --only handful|dozens     run one size only
#   SHIPIMG=path/to/shipimg   binary to measure (default: target/release/shipimg)
#   SHIPIMG_SANDBOX_ENGINE=modern   the Docker 28 engine instead of Docker 20.10
#   SHIPIMG_ENGINE_LOCK=file  held (flock) around every build (default /tmp/shipimg-engine.lock),
#                             so builds of others on the same engine never overlap a timed one
#   TMPDIR=dir                where the projects go
# Needs the sandbox up (fixtures/sandbox.sh up); its environment is read from
# `fixtures/sandbox.sh env` (which follows SHIPIMG_SANDBOX_ENGINE).
#
# Prints a markdown table on stdout; progress goes to stderr. Removes its images at the end;
# never prunes the engine's build cache (each cold build adds a copy of the dependencies to it).
# The index log is shared: requests of others that do not hold the lock would be counted too.
# This is a benchmark kept in the repo, not a test: it is never run by `cargo test`.

set -euo pipefail
# Decimal point in $EPOCHREALTIME and printf, whatever the caller's locale.
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
runs=5
cold_runs=1
only=

usage() { sed -n '2,40s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
        --runs | --cold-runs | --only)
            [[ $# -ge 2 ]] || { echo "$1 needs a value (see --help)" >&2; exit 2; }
            set -- "$1=$2" "${@:3}"
            ;;
        --runs=*)
            runs=${1#--runs=}
            [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "--runs needs a positive integer" >&2; exit 2; }
            shift
            ;;
        --cold-runs=*)
            cold_runs=${1#--cold-runs=}
            [[ $cold_runs =~ ^[1-9][0-9]*$ ]] || { echo "--cold-runs needs a positive integer" >&2; exit 2; }
            shift
            ;;
        --only=*)
            only=${1#--only=}
            [[ $only =~ ^(handful|dozens)$ ]] || { echo "--only takes handful or dozens" >&2; exit 2; }
            shift
            ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '%s\n' "$*" >&2; }

# --- Preconditions ----------------------------------------------------------------------------
env_lines=$("$root/fixtures/sandbox.sh" env)
eval "$env_lines"
"$root/fixtures/sandbox.sh" status >/dev/null \
    || { log "the sandbox is not up: run fixtures/sandbox.sh up"; exit 1; }
: "${DOCKER_HOST:?}" "${SANDBOX_NETRC:?}" "${SANDBOX_INDEX_URL:?}" "${SANDBOX_INDEX_LOG:?}" \
    "${SANDBOX_PYTHON_IMAGE:?}" "${SANDBOX_REGISTRY:?}"
docker=$SANDBOX_DOCKER
shipimg=${SHIPIMG:-$root/target/release/shipimg}
shipimg=$(realpath -- "$shipimg" 2>/dev/null) || true
[[ -x $shipimg ]] || { log "no shipimg binary at ${SHIPIMG:-$root/target/release/shipimg} (build it, or set SHIPIMG=)"; exit 1; }
[[ -f $SANDBOX_INDEX_LOG ]] || { log "no index log at $SANDBOX_INDEX_LOG (restart the sandbox)"; exit 1; }
lock=${SHIPIMG_ENGINE_LOCK:-/tmp/shipimg-engine.lock}
old_template=$here/fixtures/old-pip.Dockerfile
pins=$root/fixtures/realtree/requirements.txt

sizes=(handful dozens)
[[ -z $only ]] || sizes=("$only")
variants=(old new floor)

work=$(mktemp -d "${TMPDIR:-/tmp}/shipimg-bench-init.XXXXXX")
# init and the builds must not see a HOME inside a project (nor the caller's config).
export HOME=$work/home
mkdir -p "$HOME"
ids_file=$work/ids
: >"$ids_file"
: >"$work/requests"
tag_of() { printf 'bench-init-%s-%s' "$1" "$2"; }

cleanup() {
    local id n size v
    log "== cleanup: removing the bench images (the build cache is left alone)"
    if ! "$docker" version >/dev/null 2>&1; then
        log "the engine does not answer: left behind: bench-init-* images; logs in $work"
        return
    fi
    for size in "${sizes[@]}"; do
        for v in "${variants[@]}"; do
            "$docker" image rm "$(tag_of "$size" "$v")" >/dev/null 2>&1 || true
        done
    done
    sort -u "$ids_file" | while read -r id; do
        n=$("$docker" image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null) || continue
        if [[ $n == 0 ]]; then "$docker" image rm "$id" >/dev/null 2>&1 || true; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

# --- Projects ---------------------------------------------------------------------------------
# "name==version" for each name, from the realtree pins; fails on a name the index does not serve.
pinned() {
    local name line
    for name in "$@"; do
        line=$(grep -i -m1 "^$name==" "$pins") || { log "$name is not pinned in $pins"; exit 1; }
        printf '%s\n' "${line%% *}"
    done
}
deps_handful=$(pinned flask requests boto3 pydantic sqlalchemy)
mapfile -t top_level < <(grep -v -e '^#' -e '^[[:space:]]*$' "$root/fixtures/realtree/requirements.in")
deps_dozens=$(pinned "${top_level[@]}")

token="$$-${EPOCHREALTIME/./}"
counter=0
# Rewrites the one source file: main() prints a token unique to this build.
edit() {
    counter=$((counter + 1))
    last_token="$token-$counter"
    printf 'TOKEN = "%s"\n\n\ndef main():\n    print(TOKEN)\n' "$last_token" >"$1/bench_service/__init__.py"
}

# make_project DIR DEPS(newline-separated requirement specifiers, may be empty)
make_project() {
    local dir=$1 deps=$2 list=
    mkdir -p "$dir/bench_service"
    if [[ -n $deps ]]; then list=$(sed 's/.*/    "&",/' <<<"$deps"); list=$'\n'"$list"$'\n'; fi
    cat >"$dir/pyproject.toml" <<EOF
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "bench-service"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [$list]

[project.scripts]
bench-service = "bench_service:main"

[tool.setuptools]
packages = ["bench_service"]
EOF
    printf 'from bench_service import main\n\nmain()\n' >"$dir/bench_service/__main__.py"
    edit "$dir"
    (cd "$dir" && "$shipimg" init --quiet --image "$SANDBOX_REGISTRY/bench-init/$(basename "$dir")" \
        --index-url "$SANDBOX_INDEX_URL" --base-image "$SANDBOX_PYTHON_IMAGE" >/dev/null)
}

for size in "${sizes[@]}"; do
    deps_var=deps_$size
    log "== $size: $(wc -l <<<"${!deps_var}") top-level dependencies; preparing $work/$size-{old,new,floor}"
    make_project "$work/$size-new" "${!deps_var}"
    make_project "$work/$size-floor" ""
    cp -a "$work/$size-new" "$work/$size-old"
    cmd=$(sed -n 's/^CMD //p' "$work/$size-new/Dockerfile")
    [[ -n $cmd ]] || { log "no CMD in the Dockerfile init wrote"; exit 1; }
    sed -e "s|{{base_image}}|$SANDBOX_PYTHON_IMAGE|g" -e "s|{{cmd}}|$cmd|g" "$old_template" \
        >"$work/$size-old/Dockerfile"
    for v in "${variants[@]}"; do
        (cd "$work/$size-$v" && git init -q -b main && git add -A \
            && git -c user.name=bench -c user.email=bench@example.com commit -qm bench)
    done
done

# --- Measuring --------------------------------------------------------------------------------
# build_once OUT DIR TAG [ARGS...]: one `shipimg build` of DIR, the engine lock held around it
# (the wait is not timed). Appends "wall_s index_requests load1" to OUT.
build_once() {
    local out=$1 dir=$2 tag=$3 l0 l1 t0 t1 load rc=0 reqs
    shift 3
    {
        flock 9
        load=$(cut -d' ' -f1 /proc/loadavg)
        l0=$(wc -l <"$SANDBOX_INDEX_LOG")
        t0=$EPOCHREALTIME
        "$shipimg" build "$dir" --progress plain --netrc "$SANDBOX_NETRC" --network host \
            -t "$tag" "$@" >"$work/last.log" 2>&1 9>&- || rc=$?
        t1=$EPOCHREALTIME
        l1=$(wc -l <"$SANDBOX_INDEX_LOG")
    } 9>>"$lock"
    if ((rc != 0)); then
        log "failed ($rc): shipimg build $dir $*"
        tail -n 40 "$work/last.log" >&2
        exit 1
    fi
    sed -n "$((l0 + 1)),${l1}p" "$SANDBOX_INDEX_LOG" \
        | grep -oE '<LocalRequest: GET [^ >]*/(simple/[^/ >]+/|packages/[^ >]*)' \
        | sed 's|.*/\(simple/\)|\1|; s|.*/\(packages/\)|\1|' >"$work/reqs" || true
    reqs=$(wc -l <"$work/reqs")
    sed "s|^|${out##*/} |" "$work/reqs" >>"$work/requests"
    "$docker" image inspect -f '{{.Id}}' "$tag" >>"$ids_file"
    printf '%s %s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$reqs" "$load" \
        | tee -a "$out" | sed "s|^|  ${out##*/}: |" >&2
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cache_start=$("$docker" system df --format '{{.Type}} {{.Size}}' | sed -n 's/^Build Cache //p')

for size in "${sizes[@]}"; do
    for v in "${variants[@]}"; do
        : >"$work/$size-$v.first"
        : >"$work/$size-$v.rebuild"
    done
    for ((k = 1; k <= cold_runs; k++)); do
        log "== $size: cold first builds $k/$cold_runs (--no-cache, fresh cache-mount ids)"
        for v in "${variants[@]}"; do
            # A fresh init's id: the name and 8 random characters (old has no cache mount).
            if ((k > 1)); then
                sed -i -E "s/(id=shipimg-[a-z]+-bench-service-)[a-z0-9]+/\1c$k${token//-/}/" \
                    "$work/$size-$v/Dockerfile"
            fi
            build_once "$work/$size-$v.first" "$work/$size-$v" "$(tag_of "$size" "$v")" --no-cache
        done
    done
    log "== $size: warm-up rebuilds"
    for v in "${variants[@]}"; do
        edit "$work/$size-$v"
        build_once "$work/warm" "$work/$size-$v" "$(tag_of "$size" "$v")"
    done
    for ((i = 1; i <= runs; i++)); do
        log "== $size: round $i/$runs"
        for v in "${variants[@]}"; do
            edit "$work/$size-$v"
            build_once "$work/$size-$v.rebuild" "$work/$size-$v" "$(tag_of "$size" "$v")"
            printf '%s\n' "$last_token" >"$work/$size-$v.token"
        done
    done
    # The images run the edited code: each prints the token of its last build.
    for v in "${variants[@]}"; do
        printed=$(flock -o "$lock" "$docker" run --rm --network none "$(tag_of "$size" "$v")")
        [[ $printed == "$(cat "$work/$size-$v.token")" ]] \
            || { log "$size-$v printed '$printed', not its last token $(cat "$work/$size-$v.token")"; exit 1; }
        installed=$(flock -o "$lock" "$docker" run --rm --network none "$(tag_of "$size" "$v")" \
            python -m pip list --format freeze 2>/dev/null | grep -vc -e '^pip==' -e '^setuptools==' -e '^bench-service==' || true)
        printf '%s\n' "$installed" >"$work/$size-$v.installed"
    done
done

cache_end=$("$docker" system df --format '{{.Type}} {{.Size}}' | sed -n 's/^Build Cache //p')

# --- Report -----------------------------------------------------------------------------------
# Median of the numbers on stdin (of an even count: mean of the middle two).
median() {
    sort -n | awk '{ v[NR] = $1 } END { printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
col() { cut -d' ' -f"$2" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "MISSED" }'; }

echo "Engine: Docker $("$docker" version -f '{{.Server.Version}}') (BuildKit) at $DOCKER_HOST; shipimg: $("$shipimg" --version); base image $SANDBOX_PYTHON_IMAGE."
echo
echo "| Size | Variant | Packages installed (besides pip, setuptools, the project) | Cold first build, median (s) | Rebuild min (s) | Rebuild median (s) | Rebuild max (s) | Index requests per rebuild (median; max) | Load (1 min) during rebuilds |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
declare -A first reb
for size in "${sizes[@]}"; do
    for v in "${variants[@]}"; do
        f=$work/$size-$v.rebuild
        first[$size-$v]=$(col "$work/$size-$v.first" 1 | median)
        reb[$size-$v]=$(col "$f" 1 | median)
        printf '| %s | %s | %s | %.3f | %.3f | %.3f | %.3f | %s; %s | %s-%s |\n' "$size" "$v" \
            "$(cat "$work/$size-$v.installed")" "${first[$size-$v]}" \
            "$(col "$f" 1 | sort -n | head -n1)" "${reb[$size-$v]}" "$(col "$f" 1 | sort -n | tail -n1)" \
            "$(col "$f" 2 | median | sed 's/\.0*$//')" "$(col "$f" 2 | sort -n | tail -n1)" \
            "$(col "$f" 3 | sort -n | head -n1)" "$(col "$f" 3 | sort -n | tail -n1)"
    done
done
echo
echo "| Size | Rebuild new/old (target <= 0.25x) | Rebuild new/floor (target <= 1.3x) | First build new/old (target <= 1.2x) |"
echo "|---|---:|---:|---:|"
for size in "${sizes[@]}"; do
    a=$(ratio "${reb[$size-new]}" "${reb[$size-old]}")
    b=$(ratio "${reb[$size-new]}" "${reb[$size-floor]}")
    c=$(ratio "${first[$size-new]}" "${first[$size-old]}")
    echo "| $size | **${a}x** $(verdict "$a" 0.25) | **${b}x** $(verdict "$b" 1.3) | **${c}x** $(verdict "$c" 1.2) |"
done
echo
echo "- Rounds: $runs rebuilds per size (old, new, floor each round), after $cold_runs cold build(s) and one warm-up each"
for size in "${sizes[@]}"; do
    for v in new floor; do
        seen=$(sed -n "s|^$size-$v.rebuild ||p" "$work/requests" | sort | uniq -c | sort -rn | head -n 8 \
            | awk '{ printf "%s%s (%d)", (NR > 1 ? ", " : ""), $2, $1 }')
        echo "- Index requests logged during the $size-$v rebuilds: ${seen:-none}"
    done
done
echo "- Build cache on the engine: ${cache_start:-?} before, ${cache_end:-?} after (not pruned)"
echo "- Load average (1/5/15 min) at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
