#!/bin/sh
# Reads the built-in exporters' files back with real readers (json, csv, pyarrow) through the C ABI.
# Installs pytest and pyarrow from PyPI into target/python-test-deps (a fresh CI machine has
# neither; --target needs no venv and leaves the system's Python as it is), then runs pytest on
# this folder. Needs target/release/libsluice.so (make release). Exits non-zero when any test
# fails or when no test ran.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
deps="$root/target/python-test-deps"

if ! PYTHONPATH="$deps" "$python" -c "import pyarrow, pytest" 2>/dev/null; then
    if ! "$python" -m pip --version >/dev/null 2>&1; then
        # A bare Debian python3 has no pip: root installs Debian's, anyone else must.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip
        else
            echo "tests/python: pip is missing (apt-get install python3-pip)" >&2
            exit 1
        fi
    fi
    "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$deps" --upgrade pytest pyarrow
fi

status=0
PYTHONPATH="$deps${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
    "$python" -m pytest -p no:cacheprovider -q "$here" "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "tests/python: pytest collected no test" >&2
    exit 1
fi
exit "$status"
