#!/usr/bin/env bash
# Installs this package (building the release library with cargo) and any extra requirements
# given as arguments into the system's python3, as CI and a fresh machine need it:
#   bindings/python/install.sh [pytest ...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! python3 -m pip --version >/dev/null 2>&1; then
    # A bare Debian python3 has no pip: root installs Debian's, anyone else must.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    else
        echo "bindings/python: pip is missing (apt-get install python3-pip)" >&2
        exit 1
    fi
fi
# No venv is assumed, and Debian marks its system Python externally managed.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q "$here" "$@"
