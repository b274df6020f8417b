#!/usr/bin/env bash
# Runs a Python file with the installed sluice package, installing (and so building) it first when
# it is missing or differs from its sources or from the release library:
#   bindings/python/run.sh FILE.py [ARGS...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 FILE.py [ARGS...]" >&2; exit 2; }

installed_up_to_date() {
    local package library="$here/../../target/release/libsluice.so" source
    package="$(cd / && python3 -c 'import os, sluice; print(os.path.dirname(sluice.__file__))' 2>/dev/null)" || return 1
    for source in "$here"/sluice/*.py; do
        cmp -s "$source" "$package/$(basename "$source")" || return 1
    done
    [ ! -f "$library" ] || cmp -s "$library" "$package/libsluice.so"
}

if ! installed_up_to_date; then
    "$here/install.sh" >&2
fi
exec python3 "$@"
