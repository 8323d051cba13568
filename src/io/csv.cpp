// CSV writer for result matrices (RFC 4180 quoting, shortest round-trip numbers).

#include <dynx/io.hpp>

#include "io/util.hpp"

#include <cmath>

namespace dynx::io {
namespace {

// A field quoted when it holds a separator, a quote, a line break or edge spaces (which some
// readers strip), with quotes doubled.
void append_field(std::string& out, const std::string& s) {
  const bool quote = s.find_first_of(",\"\r\n") != std::string::npos ||
                     (!s.empty() && (s.front() == ' ' || s.back() == ' '));
  if (!quote) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

void write_csv(const std::string& path, std::int64_t rows, std::int64_t cols,
               const double* row_major, const std::vector<std::string>& row_labels,
               const std::vector<std::string>& col_labels) {
  detail::check_matrix_args(path, "write_csv", rows, cols, row_major, row_labels, col_labels);
  std::string out;
  if (!col_labels.empty()) {
    if (!row_labels.empty()) out += ',';  // the empty corner cell
    for (std::int64_t j = 0; j < cols; ++j) {
      if (j) out += ',';
      append_field(out, col_labels[static_cast<std::size_t>(j)]);
    }
    out += '\n';
  }
  for (std::int64_t i = 0; i < rows; ++i) {
    if (!row_labels.empty()) {
      append_field(out, row_labels[static_cast<std::size_t>(i)]);
      if (cols > 0) out += ',';
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      if (j) out += ',';
      const double v = row_major[i * cols + j];
      // fmt's default for double is the shortest text that reads back to the same value.
      if (std::isnan(v))
        out += "nan";
      else
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
    out += '\n';
  }
  detail::write_file(path, out);
}

}  // namespace dynx::io
