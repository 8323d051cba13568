# Sourced by the other scripts: puts nvcc on PATH when the CUDA toolkit is in its usual place and
# sets the build defaults. Override with environment variables:
#   DYNX_BUILD_DIR   build folder (default: build)
#   DYNX_CUDA        ON / OFF / auto (default auto: ON when nvcc is found)
#   DYNX_CUDA_ARCH   CUDA architectures for local builds (default 90, H100/H200; the library's
#                    CMake default when unset there is the full list in CMakeLists.txt)
#   DYNX_JOBS        parallel build jobs (default: number of cores)
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
DYNX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DYNX_BUILD_DIR="${DYNX_BUILD_DIR:-$DYNX_ROOT/build}"
DYNX_CUDA="${DYNX_CUDA:-auto}"
if [ "$DYNX_CUDA" = auto ]; then
  if command -v nvcc >/dev/null 2>&1; then DYNX_CUDA=ON; else DYNX_CUDA=OFF; fi
fi
DYNX_CUDA_ARCH="${DYNX_CUDA_ARCH:-90}"
DYNX_JOBS="${DYNX_JOBS:-$(nproc)}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"

# configure_dynx <build dir> [extra cmake args...]
configure_dynx() {
  local dir="$1"; shift
  local launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$DYNX_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DDYNX_ENABLE_CUDA="$DYNX_CUDA" -DCMAKE_CUDA_ARCHITECTURES="$DYNX_CUDA_ARCH" \
    "${launcher[@]}" "$@"
}
