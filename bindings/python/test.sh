#!/usr/bin/env bash
# Installs the Python binding as a user would (building the release library with cargo) and runs
# its tests against the installed package, from outside the source tree. Called by `make test`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$here/install.sh" pytest

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
status=0
SLUICE_EXPECT_INSTALLED=1 python3 -m pytest -p no:cacheprovider --import-mode=importlib -q "$here/tests" || status=$?
if [ "$status" -eq 5 ]; then
    echo "python binding: pytest collected no tests" >&2
fi
exit "$status"
