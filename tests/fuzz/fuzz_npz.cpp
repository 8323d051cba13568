// libFuzzer harness for dynx::io::parse_npz: any input must either parse into consistent arrays
// or throw dynx::InvalidArgument. Crashes, sanitizer reports, other exceptions, timeouts and
// allocations over -malloc_limit_mb are failures. Built and run by scripts/fuzz.sh.

#include <dynx/error.hpp>
#include <dynx/io.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    for (const dynx::io::Array& a : dynx::io::parse_npz(data, size, "fuzz.npz")) {
      std::int64_t n = 1;
      for (std::int64_t d : a.shape) {
        if (d < 0) __builtin_trap();
        n *= d;
      }
      if (a.shape.size() > 32 || static_cast<std::size_t>(n) != a.data.size()) __builtin_trap();
    }
  } catch (const dynx::InvalidArgument&) {
    // rejected cleanly
  }
  return 0;
}
