// NumPy .npy reader and writer.
//
// Format (numpy.lib.format, "NEP 1"): the magic "\x93NUMPY", a major and a minor version byte, a
// little-endian header length (uint16 for 1.0, uint32 for 2.0 and 3.0), then the header: a Python
// dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and
// a newline so that the data starts at a multiple of 64 bytes. Version 3.0 only allows UTF-8 in the
// header, which matters for structured dtypes' field names, which we reject anyway.
//
// The header is parsed by a small recursive-descent parser for the subset of Python literals that
// appears in it (strings, integers, True/False/None, tuples, lists, dicts), with a nesting limit,
// so that arbitrary bytes never crash or recurse deeply.

#include <dynx/io.hpp>

#include "io/util.hpp"

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string_view>
#include <type_traits>

namespace dynx::io {
namespace {

using detail::fail;
using detail::load_be;
using detail::load_le;
using detail::printable;
using detail::shape_text;

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kMaxDims = 32;  // NumPy's own limit (NPY_MAXDIMS) before NumPy 2.0
constexpr int kMaxNesting = 16;

// --- Python literal subset -----------------------------------------------------------------------

struct PyValue {
  enum class Kind { string, integer, boolean, none, tuple, list, dict } kind = Kind::none;
  std::string text;          // string
  std::int64_t integer = 0;  // integer (valid when !overflow)
  bool overflow = false;     // integer did not fit int64
  bool boolean = false;
  std::vector<PyValue> items;     // tuple, list; dict values
  std::vector<std::string> keys;  // dict keys (strings only)
};

class LiteralParser {
 public:
  LiteralParser(std::string_view text, const std::string& where) : s_(text), where_(where) {}

  PyValue parse_header() {
    skip_space();
    PyValue v = parse_value(0);
    skip_space();
    if (pos_ != s_.size())
      error("unexpected text after the header dictionary: '{}'", printable(s_.substr(pos_), 40));
    return v;
  }

 private:
  template <class... Args>
  [[noreturn]] void error(fmt::format_string<Args...> f, Args&&... args) {
    fail(where_, "invalid .npy header: {} (header: \"{}\")",
         fmt::format(f, std::forward<Args>(args)...), printable(s_, 120));
  }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool starts_with_word(std::string_view w) const {
    if (s_.substr(pos_, w.size()) != w) return false;
    const std::size_t end = pos_ + w.size();
    return end == s_.size() || !(std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_');
  }

  PyValue parse_value(int depth) {
    if (depth > kMaxNesting) error("values nested more than {} deep", kMaxNesting);
    skip_space();
    if (pos_ >= s_.size()) error("the header ends where a value was expected");
    PyValue v;
    const char c = s_[pos_];
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::string;
      v.text = parse_string();
    } else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
      v.kind = PyValue::Kind::integer;
      parse_integer(v);
    } else if (starts_with_word("True") || starts_with_word("False")) {
      v.kind = PyValue::Kind::boolean;
      v.boolean = s_[pos_] == 'T';
      pos_ += v.boolean ? 4 : 5;
    } else if (starts_with_word("None")) {
      pos_ += 4;
    } else if (c == '(' || c == '[') {
      v.kind = c == '(' ? PyValue::Kind::tuple : PyValue::Kind::list;
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      while (!eat(close)) {
        v.items.push_back(parse_value(depth + 1));
        if (!eat(',')) {
          if (!eat(close)) error("expected ',' or '{}' at offset {}", close, pos_);
          break;
        }
      }
    } else if (c == '{') {
      v.kind = PyValue::Kind::dict;
      ++pos_;
      while (!eat('}')) {
        skip_space();
        if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"'))
          error("expected a quoted key at offset {}", pos_);
        v.keys.push_back(parse_string());
        if (!eat(':')) error("expected ':' after key '{}'", printable(v.keys.back()));
        v.items.push_back(parse_value(depth + 1));
        if (!eat(',')) {
          if (!eat('}')) error("expected ',' or '}}' at offset {}", pos_);
          break;
        }
      }
    } else {
      error("unexpected character '{}' at offset {}", printable(s_.substr(pos_, 1)), pos_);
    }
    return v;
  }

  std::string parse_string() {
    const char quote = s_[pos_++];
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;  // keep the escaped character
      out += s_[pos_++];
    }
    if (pos_ >= s_.size()) error("unterminated string");
    ++pos_;
    return out;
  }

  void parse_integer(PyValue& v) {
    bool negative = false;
    if (s_[pos_] == '-' || s_[pos_] == '+') negative = s_[pos_++] == '-';
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9')
      error("expected digits at offset {}", pos_);
    std::uint64_t magnitude = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const unsigned d = static_cast<unsigned>(s_[pos_++] - '0');
      if (magnitude > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
        v.overflow = true;
      else
        magnitude = magnitude * 10 + d;
    }
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long, written by old NumPy
    if (magnitude > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      v.overflow = true;
    if (!v.overflow) v.integer = negative ? -static_cast<std::int64_t>(magnitude)
                                          : static_cast<std::int64_t>(magnitude);
    else
      v.integer = negative ? -1 : 1;  // only the sign is meaningful
  }

  std::string_view s_;
  const std::string& where_;
  std::size_t pos_ = 0;
};

// --- dtypes ----------------------------------------------------------------------------------------

enum class Kind { floating, signed_int, unsigned_int, boolean };

struct Dtype {
  Kind kind;
  int size;        // bytes per element
  bool big_endian;
  std::string descr;
};

// Why a NumPy type character is unsupported, or null when it may be supported.
const char* unsupported_kind(char k) {
  switch (k) {
    case 'c': return "complex numbers";
    case 'O': return "Python objects";
    case 'U': return "Unicode strings";
    case 'S':
    case 'a': return "byte strings";
    case 'V': return "raw or structured records";
    case 'M': return "datetimes";
    case 'm': return "timedeltas";
    default: return nullptr;
  }
}

Dtype parse_dtype(const PyValue& descr, const std::string& where) {
  if (descr.kind == PyValue::Kind::list)
    fail(where, "structured dtype (a record with named fields) is not supported: only plain "
                "numeric arrays can be read");
  if (descr.kind != PyValue::Kind::string)
    fail(where, "invalid .npy header: 'descr' is not a string");
  const std::string& d = descr.text;
  const auto bad = [&](const char* why) {
    fail(where, "dtype '{}' ({}) is not supported: only float, integer and bool arrays can be read",
         printable(d), why);
  };
  if (d.size() < 2) bad("unknown type string");
  std::size_t i = 0;
  char order = '|';
  if (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') order = d[i++];
  const char k = d[i++];
  if (const char* why = unsupported_kind(k)) bad(why);
  int size = 0;
  if (i >= d.size() || d.size() - i > 3) bad("unknown type string");
  for (; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9') bad("unknown type string");
    size = size * 10 + (d[i] - '0');
  }
  Dtype t{};
  t.size = size;
  t.descr = d;
  // '=' is the writer's native order; NumPy never writes it to files, treat it as little-endian.
  t.big_endian = order == '>';
  switch (k) {
    case 'f':
      t.kind = Kind::floating;
      if (size != 2 && size != 4 && size != 8) bad("floats of 2, 4 or 8 bytes are supported");
      break;
    case 'i':
      t.kind = Kind::signed_int;
      if (size != 1 && size != 2 && size != 4 && size != 8) bad("unsupported integer size");
      break;
    case 'u':
      t.kind = Kind::unsigned_int;
      if (size != 1 && size != 2 && size != 4 && size != 8) bad("unsupported integer size");
      break;
    case 'b':
      t.kind = Kind::boolean;
      if (size != 1) bad("unsupported bool size");
      break;
    default: bad("unknown type string");
  }
  return t;
}

// IEEE 754 binary16 to double.
double half_to_double(std::uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  double v;
  if (exponent == 0)
    v = std::ldexp(static_cast<double>(mantissa), -24);  // zero or subnormal
  else if (exponent == 31)
    v = mantissa ? std::numeric_limits<double>::quiet_NaN()
                 : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(static_cast<double>(mantissa | 0x400), exponent - 25);
  return sign ? -v : v;
}

template <int Size, bool BigEndian>
std::uint64_t load(const unsigned char* p) {
  return BigEndian ? load_be(p, Size) : load_le(p, Size);
}

template <Kind K, int Size, bool BigEndian>
double convert_one(const unsigned char* p) {
  const std::uint64_t bits = load<Size, BigEndian>(p);
  if constexpr (K == Kind::boolean) {
    return bits != 0 ? 1.0 : 0.0;
  } else if constexpr (K == Kind::unsigned_int) {
    return static_cast<double>(bits);
  } else if constexpr (K == Kind::signed_int) {
    constexpr int shift = 64 - 8 * Size;  // sign-extend through the top bits
    return static_cast<double>(static_cast<std::int64_t>(bits << shift) >> shift);
  } else if constexpr (Size == 2) {
    return half_to_double(static_cast<std::uint16_t>(bits));
  } else if constexpr (Size == 4) {
    float f;
    const auto u = static_cast<std::uint32_t>(bits);
    std::memcpy(&f, &u, 4);
    return f;
  } else {
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
}

// Converts `count` elements at `src` into `dst`. In Fortran order the file holds the array with the
// first index fastest; each element is written to its C-order place as an odometer walks the
// indices, so no second copy is needed.
template <Kind K, int Size, bool BigEndian>
void convert_all(const unsigned char* src, std::int64_t count, const std::vector<std::int64_t>& shape,
                 bool fortran, double* dst) {
  if (!fortran || shape.size() < 2) {
    for (std::int64_t i = 0; i < count; ++i) dst[i] = convert_one<K, Size, BigEndian>(src + i * Size);
    return;
  }
  const std::size_t nd = shape.size();
  std::vector<std::int64_t> c_stride(nd, 1), index(nd, 0);
  for (std::size_t k = nd - 1; k > 0; --k) c_stride[k - 1] = c_stride[k] * shape[k];
  std::int64_t offset = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    dst[offset] = convert_one<K, Size, BigEndian>(src + i * Size);
    for (std::size_t k = 0; k < nd; ++k) {
      offset += c_stride[k];
      if (++index[k] < shape[k]) break;
      offset -= index[k] * c_stride[k];
      index[k] = 0;
    }
  }
}

template <Kind K, int Size>
void convert_endian(const Dtype& t, const unsigned char* src, std::int64_t count,
                    const std::vector<std::int64_t>& shape, bool fortran, double* dst) {
  if (t.big_endian)
    convert_all<K, Size, true>(src, count, shape, fortran, dst);
  else
    convert_all<K, Size, false>(src, count, shape, fortran, dst);
}

template <Kind K>
void convert_size(const Dtype& t, const unsigned char* src, std::int64_t count,
                  const std::vector<std::int64_t>& shape, bool fortran, double* dst) {
  switch (t.size) {
    case 1: return convert_endian<K, 1>(t, src, count, shape, fortran, dst);
    case 2: return convert_endian<K, 2>(t, src, count, shape, fortran, dst);
    case 4: return convert_endian<K, 4>(t, src, count, shape, fortran, dst);
    default: return convert_endian<K, 8>(t, src, count, shape, fortran, dst);
  }
}

void convert(const Dtype& t, const unsigned char* src, std::int64_t count,
             const std::vector<std::int64_t>& shape, bool fortran, double* dst) {
  switch (t.kind) {
    case Kind::floating: return convert_size<Kind::floating>(t, src, count, shape, fortran, dst);
    case Kind::signed_int: return convert_size<Kind::signed_int>(t, src, count, shape, fortran, dst);
    case Kind::unsigned_int:
      return convert_size<Kind::unsigned_int>(t, src, count, shape, fortran, dst);
    case Kind::boolean: return convert_size<Kind::boolean>(t, src, count, shape, fortran, dst);
  }
}

// The "|u1"-style name NumPy gives a dtype: one-byte types have no byte order.
std::string canonical_descr(const Dtype& t) {
  const char kind = t.kind == Kind::floating       ? 'f'
                    : t.kind == Kind::signed_int   ? 'i'
                    : t.kind == Kind::unsigned_int ? 'u'
                                                   : 'b';
  const char order = t.size == 1 ? '|' : (t.big_endian ? '>' : '<');
  return fmt::format("{}{}{}", order, kind, t.size);
}

std::string stem_of(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

}  // namespace

Array parse_npy(const void* bytes, std::size_t size, const std::string& name_for_errors) {
  const std::string& where = name_for_errors;
  const auto* p = static_cast<const unsigned char*>(bytes);
  if (size > 0 && !p) fail(where, "no data (null pointer with {} bytes)", size);
  if (size < sizeof kMagic || std::memcmp(p, kMagic, sizeof kMagic) != 0)
    fail(where, "not a .npy file (it does not start with the \\x93NUMPY magic string)");
  if (size < 10) fail(where, "truncated .npy file: {} bytes, the format needs at least 10", size);
  const int major = p[6], minor = p[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    fail(where, "unsupported .npy format version {}.{} (versions 1.0, 2.0 and 3.0 are supported)",
         major, minor);
  const std::size_t prefix = major == 1 ? 10 : 12;
  if (size < prefix)
    fail(where, "truncated .npy file: {} bytes, the version {}.0 preamble needs {}", size, major,
         prefix);
  const std::uint64_t header_len = load_le(p + 8, major == 1 ? 2 : 4);
  if (header_len > size - prefix)
    fail(where, "truncated .npy file: the header needs {} bytes but only {} follow the preamble",
         header_len, size - prefix);
  const std::string_view header(reinterpret_cast<const char*>(p + prefix), header_len);

  const PyValue dict = LiteralParser(header, where).parse_header();
  if (dict.kind != PyValue::Kind::dict)
    fail(where, "invalid .npy header: not a dictionary (header: \"{}\")", printable(header, 120));
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape_value = nullptr;
  for (std::size_t i = 0; i < dict.keys.size(); ++i) {
    const PyValue** slot = dict.keys[i] == "descr"           ? &descr
                           : dict.keys[i] == "fortran_order" ? &fortran
                           : dict.keys[i] == "shape"         ? &shape_value
                                                             : nullptr;
    if (!slot) continue;  // unknown keys are ignored
    if (*slot) fail(where, "invalid .npy header: key '{}' appears twice", dict.keys[i]);
    *slot = &dict.items[i];
  }
  for (auto [value, key] : {std::pair{descr, "descr"}, std::pair{fortran, "fortran_order"},
                            std::pair{shape_value, "shape"}})
    if (!value)
      fail(where, "invalid .npy header: key '{}' is missing (header: \"{}\")", key,
           printable(header, 120));

  const Dtype dtype = parse_dtype(*descr, where);
  if (fortran->kind != PyValue::Kind::boolean)
    fail(where, "invalid .npy header: 'fortran_order' is not True or False");
  if (shape_value->kind != PyValue::Kind::tuple && shape_value->kind != PyValue::Kind::list)
    fail(where, "invalid .npy header: 'shape' is not a tuple");
  if (shape_value->items.size() > kMaxDims)
    fail(where, "shape has {} dimensions (at most {} are supported)", shape_value->items.size(),
         kMaxDims);

  Array out;
  out.name = name_for_errors;
  out.source_dtype = canonical_descr(dtype);
  std::int64_t count = 1;
  bool zero = false;
  for (const PyValue& d : shape_value->items) {
    if (d.kind != PyValue::Kind::integer)
      fail(where, "invalid .npy header: 'shape' holds something other than integers");
    if (d.integer < 0) fail(where, "shape has a negative dimension");
    if (d.overflow) fail(where, "shape has a dimension too large for 64 bits");
    out.shape.push_back(d.integer);
    // Nonzero dimensions must multiply without overflow even when another is 0, as in NumPy.
    if (d.integer == 0)
      zero = true;
    else if (!detail::mul_ok(count, d.integer, &count))
      fail(where, "shape {} has too many elements", shape_text(out.shape));
  }
  std::int64_t expected = 0;
  if (!detail::mul_ok(count, dtype.size, &expected))
    fail(where, "shape {} of {} is too large", shape_text(out.shape), dtype.descr);
  if (zero) count = expected = 0;

  const std::uint64_t present = size - prefix - header_len;
  if (present != static_cast<std::uint64_t>(expected))
    fail(where, "header says shape {} but {} bytes of data are present ({} expected)",
         shape_text(out.shape), present, expected);
  // count <= present bytes here, so this allocation is bounded by 8× the input size.
  out.data.resize(static_cast<std::size_t>(count));
  convert(dtype, p + prefix + header_len, count, out.shape, fortran->boolean, out.data.data());
  return out;
}

Array read_npy(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_file(path);
  Array a = parse_npy(bytes.data(), bytes.size(), path);
  a.name = stem_of(path);
  return a;
}

namespace {

// write_npy for float ("<f4") and double ("<f8").
template <class T>
void write_npy_as(const std::string& path, const std::vector<std::int64_t>& shape, const T* data) {
  constexpr int kBytes = int(sizeof(T));
  using Bits = std::conditional_t<kBytes == 8, std::uint64_t, std::uint32_t>;
  if (shape.size() > kMaxDims)
    fail(path, "write_npy: shape has {} dimensions (at most {} are supported)", shape.size(),
         kMaxDims);
  std::int64_t count = 1;
  for (std::int64_t d : shape) {
    if (d < 0) fail(path, "write_npy: shape {} has a negative dimension", shape_text(shape));
    if (!detail::mul_ok(count, d, &count))
      fail(path, "write_npy: shape {} has too many elements", shape_text(shape));
  }
  if (count > std::numeric_limits<std::int64_t>::max() / kBytes)
    fail(path, "write_npy: shape {} has too many elements", shape_text(shape));
  if (count > 0 && !data) fail(path, "write_npy: data is null for shape {}", shape_text(shape));

  // The header exactly as numpy.save writes it: the dict, spare room for the first dimension to
  // grow to 21 digits (so that a file can be appended to in place), spaces and a newline to make
  // the preamble plus header a multiple of 64 bytes.
  std::string header =
      fmt::format("{{'descr': '<f{}', 'fortran_order': False, 'shape': {}, }}", kBytes,
                  shape_text(shape));
  if (!shape.empty()) header.append(21 - fmt::formatted_size("{}", shape[0]), ' ');
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  // ndim <= 32 keeps the header far below the 65535 bytes version 1.0 allows.
  std::string file;
  file.reserve(10 + header.size() + static_cast<std::size_t>(count) * kBytes);
  file.append(reinterpret_cast<const char*>(kMagic), sizeof kMagic);
  file += '\x01';
  file += '\x00';
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  for (std::int64_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, &data[i], kBytes);
    char le[kBytes];
    for (int b = 0; b < kBytes; ++b) le[b] = static_cast<char>((bits >> (8 * b)) & 0xff);
    file.append(le, kBytes);
  }
  detail::write_file(path, file);
}

}  // namespace

void write_npy(const std::string& path, const std::vector<std::int64_t>& shape,
               const double* data) {
  write_npy_as(path, shape, data);
}

void write_npy(const std::string& path, const std::vector<std::int64_t>& shape, const float* data) {
  write_npy_as(path, shape, data);
}

}  // namespace dynx::io
