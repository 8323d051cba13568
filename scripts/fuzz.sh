#!/usr/bin/env bash
# Fuzzes the .npy and .npz parsers (dynx::io::parse_npy, parse_npz) with libFuzzer under
# AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh [seconds]     seconds per harness, default 20
#
# Builds tests/fuzz/fuzz_{npy,npz}.cpp with clang++ directly from the few sources they need into
# build-fuzz/ (override with DYNX_FUZZ_DIR, the compiler with DYNX_FUZZ_CXX), then runs each one
# starting from the seeds in tests/data/fuzz/{npy,npz}/. New corpus entries go to
# build-fuzz/corpus-*/, never into the committed seeds. Exits non-zero if either harness finds a
# crash, a sanitizer report, an input taking over 10 s, or an allocation over 256 MiB (a 4 KiB input
# never needs that much: the readers bound memory by the input size); the reproducer is written to
# build-fuzz/artifacts/ and can be replayed with `build-fuzz/fuzz_npy <file>`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}"
out="${DYNX_FUZZ_DIR:-$root/build-fuzz}"
cxx="${DYNX_FUZZ_CXX:-clang++}"

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz.sh: $cxx not found (install clang)" >&2
  exit 2
fi
mkdir -p "$out/obj" "$out/artifacts"

# fmt is used header-only so that nothing compiled by another compiler is linked in.
common=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
        -fno-sanitize-recover=undefined -DFMT_HEADER_ONLY -I"$root/include" -I"$root/src")
objects=()
for src in src/io/npy.cpp src/io/npz.cpp src/core/error.cpp; do
  obj="$out/obj/$(echo "$src" | tr / _).o"
  echo "fuzz.sh: compiling $src"
  "$cxx" "${common[@]}" -fsanitize=fuzzer-no-link -c "$root/$src" -o "$obj"
  objects+=("$obj")
done

status=0
for target in npy npz; do
  bin="$out/fuzz_$target"
  echo "fuzz.sh: linking $bin"
  "$cxx" "${common[@]}" -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$target.cpp" "${objects[@]}" -lz \
    -o "$bin"
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  echo "fuzz.sh: running fuzz_$target for ${seconds}s"
  if ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1" \
     "$bin" "$corpus" "$root/tests/data/fuzz/$target" \
       -dict="$root/tests/fuzz/$target.dict" -max_len=4096 -max_total_time="$seconds" \
       -timeout=10 -malloc_limit_mb=256 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$out/artifacts/$target-" 2>"$out/fuzz_$target.log"; then
    echo "fuzz.sh: fuzz_$target: OK ($(grep -o 'stat::number_of_executed_units: *[0-9]*' \
      "$out/fuzz_$target.log" | grep -o '[0-9]*$') runs, log $out/fuzz_$target.log)"
  else
    status=1
    echo "fuzz.sh: fuzz_$target FAILED; log $out/fuzz_$target.log, reproducers in $out/artifacts/" >&2
    tail -n 40 "$out/fuzz_$target.log" >&2
  fi
done
exit "$status"
