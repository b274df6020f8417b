#!/usr/bin/env bash
# Installs the Python binding as a user would (building the release library with cargo) and runs
# its tests against the installed package, from outside the source tree. Called by `make test`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# CI runs as root on a system Python: no venv, and Debian marks that Python externally managed.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q "$here" pytest

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
status=0
SLUICE_EXPECT_INSTALLED=1 python3 -m pytest -p no:cacheprovider --import-mode=importlib -q "$here/tests" || status=$?
if [ "$status" -eq 5 ]; then
    echo "python binding: pytest collected no tests" >&2
fi
exit "$status"
