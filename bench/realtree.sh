#!/usr/bin/env bash
# bench/realtree.sh - build the realtree fixture image and lay it out on disk for fast iteration.
#
# Builds fixtures/realtree (a real dependency tree of ~110 PyPI wheels, from the sandbox index)
# on the sandbox engine as realtree:latest, then writes
#   /var/tmp/realtree.tar      `docker save` of the image (what the scan reads, as a file)
#   /var/tmp/realtree-fs/      the image's merged filesystem (`docker create` + `docker export`)
# and prints the image size, file count and timings. Idempotent: the build is cached by
# BuildKit; the tar and the tree are rewritten each run.
#
# Usage: bench/realtree.sh [--no-export]
#   --no-export         build only (no tar, no tree)
#   REALTREE_IMAGE      tag (default realtree:latest)
#   REALTREE_OUT        output directory (default /var/tmp)
# Needs the sandbox up (fixtures/sandbox.sh up). Builds on the shared sandbox engine: do not run
# it next to other builds of the same Dockerfile (Docker 20.10's BuildKit can panic when
# concurrent builds share a step).

set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname -- "$here")
export_fs=1
case ${1:-} in
  "") ;;
  --no-export) export_fs= ;;
  -h|--help) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "unknown argument: $1" >&2; exit 2 ;;
esac

if [[ -z ${SANDBOX_DOCKER:-} ]]; then
  eval "$("$root/fixtures/sandbox.sh" env)"
fi
image=${REALTREE_IMAGE:-realtree:latest}
out=${REALTREE_OUT:-/var/tmp}
docker=$SANDBOX_DOCKER
log() { printf 'realtree: %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

t=$(now)
DOCKER_BUILDKIT=1 "$docker" build --progress plain \
  --secret "id=netrc,src=$SANDBOX_NETRC" --network host \
  --build-arg "PIP_INDEX_URL=$SANDBOX_INDEX_URL" \
  -t "$image" "$root/fixtures/realtree" >"$out/realtree-build.log" 2>&1 || {
  tail -n 30 "$out/realtree-build.log" >&2
  log "build failed; full log: $out/realtree-build.log"
  exit 1
}
log "built $image in $(since "$t")s (log: $out/realtree-build.log)"
size=$("$docker" image inspect --format '{{.Size}}' "$image")
log "image size: $((size / 1000000)) MB ($size bytes)"
[[ -n $export_fs ]] || exit 0

t=$(now)
"$docker" save "$image" >"$out/realtree.tar.part"
mv -f -- "$out/realtree.tar.part" "$out/realtree.tar"
log "saved $out/realtree.tar ($(du -m "$out/realtree.tar" | cut -f1) MB) in $(since "$t")s"

t=$(now)
fs=$out/realtree-fs
rm -rf -- "$fs" "$fs.part"
mkdir -p -- "$fs.part"
cid=$("$docker" create --network none "$image")
trap '"$docker" rm -f "$cid" >/dev/null 2>&1 || true' EXIT
# Device nodes and owners are not needed to read the files; --no-same-owner keeps it simple.
"$docker" export "$cid" | tar -x -C "$fs.part" --no-same-owner --exclude='dev/*'
mv -- "$fs.part" "$fs"
files=$(find "$fs" -type f | wc -l)
log "extracted $fs: $files files, $(du -sm "$fs" | cut -f1) MB, in $(since "$t")s"
log "site-packages: $(find "$fs/opt/venv/lib/python3.11/site-packages" -type f | wc -l) files," \
  "$(find "$fs/opt/venv/lib/python3.11/site-packages" -name '*.pyc' | wc -l) .pyc"
