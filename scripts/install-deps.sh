#!/usr/bin/env bash
# Installs everything dynx needs to build and test on a fresh Debian 12 machine (run as root or
# with sudo available). Idempotent: packages already present are left alone, and apt is not
# touched at all when nothing is missing.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --mpi      also Open MPI (for DYNX_ENABLE_MPI)
#
# The CUDA toolkit is not a Debian package we use: when nvcc is installed (in /usr/local/cuda or
# on PATH) the build enables the CUDA backend, otherwise it builds CPU-only.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git python3
  libopenblas-openmp-dev liblapacke-dev   # BLAS/LAPACK (OpenMP build of OpenBLAS) + LAPACKE
  libspdlog-dev libfmt-dev                # logging (private to libdynx)
  libgtest-dev libgmock-dev               # tests
  libbenchmark-dev                        # benchmarks
  zlib1g-dev libhdf5-dev                  # .npz (deflate) and HDF5 input files
  nlohmann-json3-dev                      # JSON records written by the CLI
  clang                                   # libFuzzer targets for the file readers
)
for arg in "$@"; do
  case "$arg" in
    --mpi) packages+=(openmpi-bin libopenmpi-dev) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
