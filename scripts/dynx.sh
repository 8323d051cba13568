#!/usr/bin/env bash
# Quick start, the main job: builds dynx if needed (installing what it needs) and runs the `dynx`
# command line with the given arguments. With no arguments it runs the main job, `dynx compare`,
# on built-in example systems (DSA beside the geometric baselines; results in
# ./dynx-compare-out).
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$DYNX_ROOT/scripts/build.sh" -DDYNX_BUILD_TESTS=OFF >"${TMPDIR:-/tmp}/dynx-build.log" 2>&1 || {
  tail -n 50 "${TMPDIR:-/tmp}/dynx-build.log" >&2
  echo "dynx.sh: build failed (full log: ${TMPDIR:-/tmp}/dynx-build.log)" >&2
  exit 1
}
exec "$DYNX_BUILD_DIR/dynx" "$@"
