#!/usr/bin/env bash
# Runs each C test program given as an argument, under valgrind when it is installed (CI
# installs it): any memory error or definite leak fails the run.
set -euo pipefail
status=0
for program in "$@"; do
  echo "== $program"
  if command -v valgrind >/dev/null 2>&1 && [ "${SLUICE_NO_VALGRIND:-0}" != 1 ]; then
    valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --show-leak-kinds=definite "$program" || status=1
  else
    "$program" || status=1
  fi
done
exit $status
