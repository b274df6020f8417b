#!/usr/bin/env bash
# bindings/node/run.sh FILE [ARGS...]: runs FILE (.mjs or .js) with this package importable as
# 'sluice'. The package is installed the way users install it (npm install <this folder>) into
# target/node-run (or $SLUICE_NODE_RUN_DIR), and FILE runs from there: node resolves packages
# from the folder of the file, so a copy of FILE runs; its own relative imports are not copied.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bindings/node/run.sh FILE [ARGS...]" >&2
  exit 2
fi
file=$(realpath "$1")
shift
package_dir=$(cd "$(dirname "$0")" && pwd)
run_dir=${SLUICE_NODE_RUN_DIR:-$package_dir/../../target/node-run}
mkdir -p "$run_dir"
run_dir=$(cd "$run_dir" && pwd)
if [ ! -f "$run_dir/package.json" ]; then
  echo '{ "name": "sluice-run", "version": "0.0.0", "private": true }' > "$run_dir/package.json"
fi
log="$run_dir/npm-install.log"
if ! (cd "$run_dir" && npm install --no-audit --no-fund "$package_dir" > "$log" 2>&1); then
  cat "$log" >&2
  exit 1
fi
cp "$file" "$run_dir/"
exec node "$run_dir/$(basename "$file")" "$@"
