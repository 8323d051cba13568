#pragma once
// Helpers shared by the file readers and writers in src/io: whole-file reads and writes that throw
// dynx errors naming the file, little/big-endian loads from unaligned bytes, overflow-checked
// arithmetic, and text sanitising for messages. Header-only, so that the fuzz harnesses can build
// npy.cpp and npz.cpp without the rest of the library.

#include <dynx/error.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>

namespace dynx::io::detail {

/// Throws InvalidArgument "<where>: <reason>".
template <class... Args>
[[noreturn]] void fail(const std::string& where, fmt::format_string<Args...> f, Args&&... args) {
  throw InvalidArgument(where + ": " + fmt::format(f, std::forward<Args>(args)...));
}

/// Throws Error "<path>: <what>: <strerror(errno)>" for an I/O failure.
[[noreturn]] inline void fail_io(const std::string& path, const char* what, int err) {
  throw Error(fmt::format("{}: {}: {}", path, what, err ? std::strerror(err) : "I/O error"));
}

/// The whole content of a file. Throws Error when it cannot be opened or read.
inline std::vector<unsigned char> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail_io(path, "cannot open", errno);
  std::vector<unsigned char> bytes;
  struct stat st {};
  if (fstat(fileno(f), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      std::fclose(f);
      fail_io(path, "cannot read", EISDIR);
    }
    // A size hint only (the loop reads to the end), and only for regular files.
    if (S_ISREG(st.st_mode) && st.st_size > 0) bytes.reserve(static_cast<std::size_t>(st.st_size));
  }
  unsigned char chunk[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(chunk, 1, sizeof chunk, f);
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) fail_io(path, "cannot read", err);
  return bytes;
}

/// Writes `text` to `path`, replacing it. Throws Error when it cannot be written.
inline void write_file(const std::string& path, std::string_view text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail_io(path, "cannot open for writing", errno);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  int err = errno;
  if (std::fclose(f) != 0 && ok) {
    err = errno;
    fail_io(path, "cannot write", err);
  }
  if (!ok) fail_io(path, "cannot write", err);
}

inline std::uint64_t load_le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t load_be(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

/// a * b, or false when it overflows int64 (both non-negative).
inline bool mul_ok(std::int64_t a, std::int64_t b, std::int64_t* out) {
  if (a != 0 && b > std::numeric_limits<std::int64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

/// [offset, offset + len) lies inside a buffer of `size` bytes (no overflow).
inline bool in_bounds(std::uint64_t offset, std::uint64_t len, std::uint64_t size) {
  return offset <= size && len <= size - offset;
}

/// `s` with control characters and non-ASCII bytes escaped, at most `max` characters kept, for
/// quoting untrusted names and header text in messages.
inline std::string printable(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

/// "(3, 4)", "(5,)", "()" as NumPy prints shapes.
inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += fmt::format(i ? ", {}" : "{}", shape[i]);
  return out + ")";
}

/// Checks the matrix arguments of write_csv and write_heatmap_svg (`op` names the function).
inline void check_matrix_args(const std::string& path, const char* op, std::int64_t rows,
                              std::int64_t cols, const double* data,
                              const std::vector<std::string>& row_labels,
                              const std::vector<std::string>& col_labels) {
  std::int64_t count = 0;
  if (rows < 0 || cols < 0 || !mul_ok(rows, cols, &count))
    fail(path, "{}: invalid matrix size {}x{}", op, rows, cols);
  if (count > 0 && !data) fail(path, "{}: data is null for a {}x{} matrix", op, rows, cols);
  if (!row_labels.empty() && static_cast<std::int64_t>(row_labels.size()) != rows)
    fail(path, "{}: {} row labels for {} rows", op, row_labels.size(), rows);
  if (!col_labels.empty() && static_cast<std::int64_t>(col_labels.size()) != cols)
    fail(path, "{}: {} column labels for {} columns", op, col_labels.size(), cols);
}

}  // namespace dynx::io::detail
