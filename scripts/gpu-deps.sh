#!/usr/bin/env bash
# Downloads (does not install) the Debian 12 packages that dynx needs to build and test, into
# .gpu-deps/ in the repository root, for a machine that cannot reach a package registry: the
# borrowed GPU machine, where scripts/gpu-check.sh unpacks them into a private prefix. Run it here
# before each GPU session (it also records the commit being tested in .gpu-deps/COMMIT):
#
#   scripts/gpu-deps.sh          # then: run scripts/gpu-check.sh with carry [".gpu-deps"]
#
# Idempotent: a package whose .deb is already there is not downloaded again. The list is
# install-deps.sh's build/test libraries plus the shared libraries they load that a bare CUDA image
# may lack (checked with `apt-cache depends`). Left out on purpose: libgcc-s1, libstdc++6 and libc6
# (every image with a compiler has them, and an older copy on LD_LIBRARY_PATH would shadow the
# system's), catch2 (spdlog-dev's test-only dependency), libtmglib-dev, libblas-dev and
# liblapack-dev (dynx links OpenBLAS and LAPACKE only; liblapacke-dev's -dev dependencies are
# there for static linking).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${DYNX_GPU_DEPS_DIR:-$root/.gpu-deps}"

packages=(
  # BLAS/LAPACK: OpenBLAS (OpenMP build), which also provides libblas.so.3/liblapack.so.3 ...
  libopenblas0-openmp libopenblas-openmp-dev
  # ... LAPACKE (its libtmglib.so.3 is a DT_NEEDED of liblapacke.so.3) and the reference
  # libblas3/liblapack3 that liblapacke's Depends names (unused when OpenBLAS is linked first).
  liblapacke liblapacke-dev libtmglib3 liblapack3 libblas3
  # OpenBLAS's runtime: unpacked there only when the system lacks the library.
  libgfortran5 libquadmath0 libgomp1
  # logging
  libspdlog1.10 libspdlog-dev libfmt9 libfmt-dev
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark1debian libbenchmark-dev
  # .npz reading (deflate) and the JSON records of the CLI and the DSA benchmark (header-only)
  zlib1g-dev nlohmann-json3-dev
)

mkdir -p "$dest"

# The GPU machine is x86-64. On another architecture, download amd64 packages with a private copy
# of the package lists.
apt_opts=()
if [ "$(dpkg --print-architecture)" != amd64 ]; then
  lists="${TMPDIR:-/tmp}/dynx-apt-amd64"
  mkdir -p "$lists/partial"
  apt_opts=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o "Dir::State::Lists=$lists")
fi

missing=()
for p in "${packages[@]}"; do
  if ! compgen -G "$dest/${p}_*.deb" >/dev/null; then missing+=("$p"); fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu-deps: downloading ${missing[*]}"
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/dynx-gpu-deps.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp"   # so that apt's unprivileged _apt user may write there
  download() { (cd "$tmp" && apt-get "${apt_opts[@]}" -q download "${missing[@]}"); }
  if ! download; then
    # Stale or missing package lists: refresh them, then try once more.
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
    echo "gpu-deps: download failed; running apt-get update and trying again"
    $SUDO apt-get "${apt_opts[@]}" update -qq
    download
  fi
  for f in "$tmp"/*.deb; do
    # Drop the URL-encoded epoch ("1%3a1.10.0") so that every name is plain letters, digits and . _ + -
    name="$(basename "$f" | sed 's/_[0-9]*%3a/_/')"
    mv "$f" "$dest/$name"
  done
fi

# Remove .deb files of packages no longer in the list (or older versions left by an earlier run).
for f in "$dest"/*.deb; do
  [ -e "$f" ] || continue
  p="$(basename "$f")"; p="${p%%_*}"
  keep=0
  for q in "${packages[@]}"; do [ "$p" = "$q" ] && keep=1; done
  if [ "$keep" = 0 ]; then echo "gpu-deps: removing $(basename "$f") (not in the list)"; rm -f "$f"; fi
done
for p in "${packages[@]}"; do
  mapfile -t versions < <(ls -1 "$dest/${p}_"*.deb | sort -V)
  if [ ${#versions[@]} -gt 1 ]; then rm -f "${versions[@]:0:${#versions[@]}-1}"; fi
done

# The commit under test, for gpu-check.sh's summary: the copy sent to the GPU machine has no .git.
if git -C "$root" rev-parse HEAD >/dev/null 2>&1; then
  {
    echo "commit $(git -C "$root" rev-parse HEAD)"
    echo "changed_files $(git -C "$root" status --porcelain --untracked-files=no | wc -l)"
    echo "untracked_files $(git -C "$root" status --porcelain | grep -c '^??' || true)"
    echo "recorded $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$dest/COMMIT"
fi

total_kib="$(du -sk "$dest" | cut -f1)"
echo "gpu-deps: $(ls -1 "$dest"/*.deb | wc -l) packages in $dest, $((total_kib / 1024)) MiB (${total_kib} KiB)"
if [ "$total_kib" -gt $((40 * 1024)) ]; then
  echo "gpu-deps: warning: over 40 MiB; the device tool carries at most 64 MiB with the tree" >&2
fi
