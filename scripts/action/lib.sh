# shellcheck shell=bash
# Shared by the GitHub Action's scripts (install.sh, run.sh), sourced.

# fail MESSAGE [HINT]: the error as a workflow annotation and as shipimg's two lines, exit 1.
fail() {
    echo "::error::$1"
    echo "error: $1" >&2
    [[ -z ${2:-} ]] || echo "  hint: $2" >&2
    exit 1
}
