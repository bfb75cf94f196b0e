#!/usr/bin/env bash
# The GitHub Action's build step: turns the inputs, which action.yml maps through `env:` into
# INPUT_* variables, into one `shipimg build` command line, built as an array: no eval, and no
# value is ever split on spaces or expanded. shipimg itself writes the step outputs (digest,
# image, imageid, tags, metadata) to GITHUB_OUTPUT and the job summary.
#
# The netrc input arrives as INPUT_NETRC and reaches shipimg only as SHIPIMG_NETRC in its
# environment: never on a command line, never echoed (the runner already masks a secret's value
# in the log, and shipimg masks it in everything it writes).
set -euo pipefail

# shellcheck source=scripts/action/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

shipimg=${SHIPIMG_BIN:-}
[[ -n $shipimg && -x $shipimg ]] ||
    fail "SHIPIMG_BIN does not name the installed shipimg" "run scripts/action/install.sh first (action.yml's install step)"

# Each non-empty item of a list input, trimmed. `separators` is the set of characters that split
# items: a newline always, and a comma for inputs whose items never hold one.
items() {
    local value=$1 separators=$2 line item
    local -a parts
    while IFS= read -r line || [[ -n $line ]]; do
        IFS=$separators read -r -a parts <<<"$line" || true
        for item in "${parts[@]}"; do
            item=${item#"${item%%[![:space:]]*}"}
            item=${item%"${item##*[![:space:]]}"}
            [[ -z $item ]] || printf '%s\n' "$item"
        done
    done <<<"$value"
}

# `true` or `false`, as GitHub's boolean inputs arrive.
flag() {
    local name=$1 value=${2:-false}
    case $value in
        true | True | TRUE) return 0 ;;
        false | False | FALSE | "") return 1 ;;
        *) fail "the \`$name\` input must be \`true\` or \`false\`, not \`${value//[$'\n\r']/ }\`" ;;
    esac
}

# `--flag=VALUE` and the context after `--`: a value that starts with `-` stays a value.
args=(build)
[[ -z ${INPUT_FILE:-} ]] || args+=("--file=$INPUT_FILE")
[[ -z ${INPUT_IMAGE:-} ]] || args+=("--image=$INPUT_IMAGE")
while IFS= read -r tag; do args+=("--tag=$tag"); done < <(items "${INPUT_TAGS:-}" ',')
if flag push "${INPUT_PUSH:-}"; then args+=(--push); fi
[[ -z ${INPUT_TARGET:-} ]] || args+=("--target=$INPUT_TARGET")
while IFS= read -r arg; do args+=("--build-arg=$arg"); done < <(items "${INPUT_BUILD_ARGS:-}" '')
while IFS= read -r label; do args+=("--label=$label"); done < <(items "${INPUT_LABELS:-}" '')
[[ -z ${INPUT_PLATFORM:-} ]] || args+=("--platform=$INPUT_PLATFORM")
[[ -z ${INPUT_NETWORK:-} ]] || args+=("--network=$INPUT_NETWORK")
if flag no-cache "${INPUT_NO_CACHE:-}"; then args+=(--no-cache); fi
if flag pull "${INPUT_PULL:-}"; then args+=(--pull); fi
while IFS= read -r url; do args+=("--index-url=$url"); done < <(items "${INPUT_INDEX_URLS:-}" ',')
while IFS= read -r spec; do args+=("--secret=$spec"); done < <(items "${INPUT_SECRETS:-}" '')
while IFS= read -r allow; do args+=("--scan-allow=$allow"); done < <(items "${INPUT_SCAN_ALLOW:-}" '')
[[ -z ${INPUT_PROGRESS:-} ]] || args+=("--progress=$INPUT_PROGRESS")

[[ -z ${INPUT_CONTEXT:-} ]] || args+=(-- "$INPUT_CONTEXT")

# An empty input leaves a SHIPIMG_NETRC the job set alone.
if [[ -n ${INPUT_NETRC:-} ]]; then
    export SHIPIMG_NETRC=$INPUT_NETRC
fi
unset INPUT_NETRC

# The command line holds no secret, so it can be shown.
printf 'shipimg'
printf ' %q' "${args[@]}"
printf '\n'
exec "$shipimg" "${args[@]}"
