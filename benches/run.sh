#!/usr/bin/env bash
# sluice side by side with the libraries users would pick instead: one table per language (Rust/C,
# Python, Node) and sluice under pressure.
#
#   benches/run.sh           installs the peers where they belong (benches/.venv, benches/node_modules,
#                            the crates of benches/rust-peers), runs every row, prints the tables and
#                            writes them to benches/RESULTS.md
#   benches/run.sh --quick   sluice rows only, small N, a few seconds once built; installs no peer
#                            and writes no file (what CI runs)
#
# Only loopback is used; every step is bounded and ends by itself.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

quick=""
case "${1:-}" in
    "") ;;
    --quick) quick="--quick" ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

raw="$(mktemp -d)"
trap 'rm -rf "$raw"' EXIT
cat /proc/loadavg > "$raw/loadavg.start"

# Runs one harness, its standard output to a file of $raw and its standard error (the peers'
# own complaints about the closed port) to a log shown only if it fails.
step() {
    local name="$1"
    shift
    echo "benches/run.sh: $name" >&2
    if ! "$@" >> "$raw/$name.jsonl" 2>> "$raw/$name.log"; then
        echo "benches/run.sh: $name failed; the end of its log:" >&2
        tail -n 40 "$raw/$name.log" >&2
        exit 1
    fi
}

# The Node binding needs its own dependency (koffi) in its folder; npm does not install the
# dependencies of a linked folder, and the binding's install script may not have run.
ensure_node_binding() {
    if [ ! -d "$root/bindings/node/node_modules/koffi" ]; then
        (cd "$root/bindings/node" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
    fi
}

# Each installs again only when what it installs from changed.
install_python_peers() {
    local venv="$here/.venv" stamp
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    stamp="$(cat "$here/requirements.txt" "$root/bindings/python/pyproject.toml" \
        "$root/bindings/python/setup.py" "$root"/bindings/python/sluice/*.py | sha256sum)"
    if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$stamp" ]; then
        echo "benches/run.sh: installing the Python peers into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$here/requirements.txt" "$root/bindings/python" >&2
        echo "$stamp" > "$venv/.installed"
    fi
}

install_node_peers() {
    local stamp
    stamp="$(sha256sum < "$here/package-lock.json")"
    if [ "$(cat "$here/node_modules/.installed" 2>/dev/null)" != "$stamp" ]; then
        echo "benches/run.sh: installing the Node peers into $here/node_modules" >&2
        (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
        echo "$stamp" > "$here/node_modules/.installed"
    fi
}

# Every binding loads the library built from this checkout, copied so that a rebuild during the
# run changes nothing.
(cd "$root" && cargo build --release --quiet)
cp "$root/target/release/libsluice.so" "$raw/libsluice.so"
git -C "$root" rev-parse --short HEAD > "$raw/commit"
git -C "$root" status --porcelain -- src Cargo.toml bindings/python/sluice bindings/node/src > "$raw/changes"
export SLUICE_LIBRARY="$raw/libsluice.so"
# OpenTelemetry takes its queue sizes from these: its defaults are what the default rows measure.
unset OTEL_BLRP_MAX_QUEUE_SIZE OTEL_BLRP_SCHEDULE_DELAY OTEL_BLRP_MAX_EXPORT_BATCH_SIZE \
    OTEL_BLRP_EXPORT_TIMEOUT OTEL_SDK_DISABLED

ensure_node_binding
if [ -n "$quick" ]; then
    rust_features=(--no-default-features)
    python=(env PYTHONPATH="$root/bindings/python" python3)
    export SLUICE_NODE_BINDING="$root/bindings/node"
else
    rust_features=()
    install_python_peers
    install_node_peers
    python=("$here/.venv/bin/python")
fi

rust_peers=(cargo run --release --quiet --manifest-path "$here/rust-peers/Cargo.toml" "${rust_features[@]}" --)
echo "benches/run.sh: building benches/rust-peers" >&2
cargo build --release --quiet --manifest-path "$here/rust-peers/Cargo.toml" "${rust_features[@]}"
step rust "${rust_peers[@]}" table $quick
step pressure "${rust_peers[@]}" pressure $quick
step python "${python[@]}" "$here/peers.py" $quick
step node node "$here/peers.mjs" $quick

if [ -n "$quick" ]; then
    python3 "$here/report.py" "$raw" --quick
else
    python3 "$here/report.py" "$raw" --write "$here/RESULTS.md"
    echo "benches/run.sh: written to benches/RESULTS.md" >&2
fi
