#!/usr/bin/env bash
# Checks that a release tag names the crate's version (`v` + Cargo.toml's `version`), so the
# wheels, the crate and the binaries a tag publishes all carry the version it says. The release
# workflow runs it first; so do the tests.
#
# Usage: scripts/check-version.sh TAG        e.g. scripts/check-version.sh v0.1.0
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

[[ $# -eq 1 ]] || { echo "usage: $0 TAG" >&2; exit 2; }
tag=${1#refs/tags/}

# The first `version = "..."` of Cargo.toml is [package]'s: it comes before any table that
# could hold another.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
if [[ -z $version ]]; then
    echo "error: no \`version\` in \`$root/Cargo.toml\`" >&2
    exit 1
fi
if [[ $tag != "v$version" ]]; then
    echo "error: tag \`$tag\` does not match the crate version \`$version\`" >&2
    echo "hint: tag the release \`v$version\`, or set \`version = \"${tag#v}\"\` in Cargo.toml and commit it before tagging" >&2
    exit 1
fi
echo "check-version: tag $tag matches the crate version $version" >&2
