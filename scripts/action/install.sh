#!/usr/bin/env bash
# The GitHub Action's install step: puts shipimg SHIPIMG_VERSION into a virtualenv under
# RUNNER_TEMP with `pip install shipimg==VERSION`, adds it to PATH for the job's later steps, and
# gives its path as the step output `shipimg`. Reads only the environment (action.yml maps the
# `version` input to SHIPIMG_VERSION); pip's own variables (PIP_INDEX_URL, PIP_FIND_LINKS...)
# reach pip as usual.
set -euo pipefail

# shellcheck source=scripts/action/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version=${SHIPIMG_VERSION:-}
[[ $version =~ ^[0-9][0-9A-Za-z.+!-]*$ ]] ||
    fail "the \`version\` input \`${version//[$'\n\r']/ }\` is not a version" "give one like \`0.1.0\`"
[[ -n ${RUNNER_TEMP:-} ]] || fail "RUNNER_TEMP is not set" "run this as a step of a GitHub Actions job"
python=${PYTHON:-python3}
command -v "$python" >/dev/null ||
    fail "no \`$python\` on PATH" "use a runner with Python 3.8 or newer, or add actions/setup-python before this action"

venv=$RUNNER_TEMP/shipimg-$version
if [[ ! -x $venv/bin/shipimg ]] || [[ $("$venv/bin/shipimg" --version) != "shipimg $version" ]]; then
    echo "Installing shipimg $version into $venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "shipimg==$version"
fi
installed=$("$venv/bin/shipimg" --version)
[[ $installed == "shipimg $version" ]] ||
    fail "pip installed \`$installed\`, not shipimg $version"
echo "$installed at $venv/bin/shipimg"

if [[ -n ${GITHUB_PATH:-} ]]; then
    echo "$venv/bin" >>"$GITHUB_PATH"
fi
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    echo "shipimg=$venv/bin/shipimg" >>"$GITHUB_OUTPUT"
fi
