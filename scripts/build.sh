#!/usr/bin/env bash
# Installs dependencies, then configures and builds dynx (library, CLI, tests) in $DYNX_BUILD_DIR.
# Extra arguments go to CMake, e.g. scripts/build.sh -DDYNX_BUILD_BENCH=ON
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$DYNX_ROOT/scripts/install-deps.sh"
configure_dynx "$DYNX_BUILD_DIR" "$@"
cmake --build "$DYNX_BUILD_DIR" -j "$DYNX_JOBS"
