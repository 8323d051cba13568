// NumPy .npz reader: a ZIP archive of .npy members (numpy.savez stores them, numpy.savez_compressed
// deflates them).
//
// ZIP layout (PKWARE APPNOTE.TXT 6.3): local file headers and data, then the central directory (one
// record per member, with the sizes, CRC-32 and offset of its local header), then the end of
// central directory record (EOCD), possibly followed by a comment. Archives over 4 GiB or 65535
// members use ZIP64: 0xFFFFFFFF/0xFFFF placeholders in the classic records, the real values in a
// ZIP64 EOCD record (found through a locator just before the EOCD) and in a ZIP64 "extra field"
// (id 0x0001) of each central directory record. numpy.savez writes every member with ZIP64 local
// headers (Python's zipfile force_zip64), so those are common.
//
// We trust the central directory for sizes (the local header may have zeros when a data descriptor
// follows the data) and use the local header only to find where the data starts.

#include <dynx/io.hpp>

#include "io/util.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace dynx::io {
namespace {

using detail::fail;
using detail::in_bounds;
using detail::printable;

constexpr std::uint32_t kEocdSig = 0x06054b50;
constexpr std::uint32_t kZip64EocdSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::size_t kEocdSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EocdSize = 56;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kLocalSize = 30;
// Deflate cannot expand data by more than 1032:1 (a 258-byte match per ~2 bits), so a member
// claiming more is corrupt; this bounds what a tiny corrupt archive can make us allocate.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

std::uint32_t u16(const unsigned char* p) { return static_cast<std::uint32_t>(detail::load_le(p, 2)); }
std::uint32_t u32(const unsigned char* p) { return static_cast<std::uint32_t>(detail::load_le(p, 4)); }
std::uint64_t u64(const unsigned char* p) { return detail::load_le(p, 8); }

struct Member {
  std::string name;
  std::uint32_t flags = 0;
  std::uint32_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t uncompressed = 0;
  std::uint64_t local_offset = 0;
};

class ZipReader {
 public:
  ZipReader(const unsigned char* p, std::size_t size, const std::string& where)
      : p_(p), size_(size), where_(where) {}

  // The central directory's records, in archive order.
  std::vector<Member> members() {
    const std::size_t eocd = find_eocd();
    const unsigned char* e = p_ + eocd;
    std::uint64_t disk = u16(e + 4), cd_disk = u16(e + 6);
    std::uint64_t entries_here = u16(e + 8), entries = u16(e + 10);
    std::uint64_t cd_size = u32(e + 12), cd_offset = u32(e + 16);
    if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff ||
        entries_here == 0xffff) {
      // ZIP64: the locator sits right before the EOCD and points at the ZIP64 EOCD record.
      if (eocd < kZip64LocatorSize || u32(p_ + eocd - kZip64LocatorSize) != kZip64LocatorSig)
        fail(where_, "corrupt ZIP archive: ZIP64 placeholders but no ZIP64 end-of-central-directory "
                     "locator");
      const std::uint64_t z = u64(p_ + eocd - kZip64LocatorSize + 8);
      if (!in_bounds(z, kZip64EocdSize, size_) || u32(p_ + z) != kZip64EocdSig)
        fail(where_, "corrupt ZIP archive: the ZIP64 end-of-central-directory record is missing or "
                     "outside the {}-byte file",
             size_);
      const unsigned char* r = p_ + z;
      disk = u32(r + 16);
      cd_disk = u32(r + 20);
      entries_here = u64(r + 24);
      entries = u64(r + 32);
      cd_size = u64(r + 40);
      cd_offset = u64(r + 48);
    }
    if (disk != 0 || cd_disk != 0 || entries_here != entries)
      fail(where_, "archives split over several files are not supported");
    if (!in_bounds(cd_offset, cd_size, size_))
      fail(where_,
           "corrupt ZIP archive: central directory at offset {} ({} bytes) lies outside the "
           "{}-byte file",
           cd_offset, cd_size, size_);

    std::vector<Member> out;
    out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(entries, cd_size / kCentralSize)));
    std::uint64_t pos = cd_offset;
    const std::uint64_t end = cd_offset + cd_size;
    for (std::uint64_t i = 0; i < entries; ++i) {
      if (!in_bounds(pos, kCentralSize, end) || u32(p_ + pos) != kCentralSig)
        fail(where_,
             "corrupt ZIP archive: central directory record {} of {} is missing or truncated", i + 1,
             entries);
      const unsigned char* c = p_ + pos;
      const std::uint32_t name_len = u16(c + 28), extra_len = u16(c + 30), comment_len = u16(c + 32);
      if (!in_bounds(pos + kCentralSize, std::uint64_t{name_len} + extra_len + comment_len, end))
        fail(where_, "corrupt ZIP archive: central directory record {} is truncated", i + 1);
      Member m;
      m.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
      m.flags = u16(c + 8);
      m.method = u16(c + 10);
      m.crc = u32(c + 16);
      m.compressed = u32(c + 20);
      m.uncompressed = u32(c + 24);
      m.local_offset = u32(c + 42);
      const std::uint32_t start_disk = u16(c + 34);
      read_zip64_extra(c + kCentralSize + name_len, extra_len, m);
      if (start_disk != 0 && start_disk != 0xffff)
        fail(where_, "archives split over several files are not supported");
      out.push_back(std::move(m));
      pos += kCentralSize + name_len + extra_len + comment_len;
    }
    return out;
  }

  // Where member `m`'s data starts, from its local header.
  std::uint64_t data_offset(const Member& m, const std::string& where) const {
    if (!in_bounds(m.local_offset, kLocalSize, size_) || u32(p_ + m.local_offset) != kLocalSig)
      fail(where, "corrupt ZIP archive: no local file header at offset {}", m.local_offset);
    const unsigned char* l = p_ + m.local_offset;
    const std::uint64_t start = m.local_offset + kLocalSize + u16(l + 26) + u16(l + 28);
    if (!in_bounds(start, m.compressed, size_))
      fail(where, "truncated ZIP archive: the member's {} bytes at offset {} extend past the "
                  "{}-byte file",
           m.compressed, start, size_);
    return start;
  }

 private:
  std::size_t find_eocd() const {
    // The EOCD is the last 22 bytes plus a comment of at most 65535 bytes. Prefer a candidate whose
    // comment length reaches the end of the file exactly; a comment may itself contain the
    // signature.
    if (size_ < kEocdSize)
      fail(where_, "not a .npz file: {} bytes is too small for a ZIP archive", size_);
    const std::size_t lowest = size_ - kEocdSize > 0xffff ? size_ - kEocdSize - 0xffff : 0;
    std::size_t fallback = SIZE_MAX;
    for (std::size_t i = size_ - kEocdSize + 1; i-- > lowest;) {
      if (u32(p_ + i) != kEocdSig) continue;
      if (i + kEocdSize + u16(p_ + i + 20) == size_) return i;
      if (fallback == SIZE_MAX) fallback = i;
    }
    if (fallback != SIZE_MAX) return fallback;  // trailing junk after the comment: tolerate it
    fail(where_, "not a .npz file (no ZIP end-of-central-directory record found)");
  }

  void read_zip64_extra(const unsigned char* x, std::uint32_t len, Member& m) const {
    const bool need_u = m.uncompressed == 0xffffffff;
    const bool need_c = m.compressed == 0xffffffff;
    const bool need_o = m.local_offset == 0xffffffff;
    std::uint32_t pos = 0;
    while (pos + 4 <= len) {
      const std::uint32_t id = u16(x + pos), size = u16(x + pos + 2);
      if (size > len - pos - 4) break;  // malformed extra data: ignore the rest
      if (id == 0x0001) {
        // Only the fields whose classic value is the placeholder are present, in this order.
        const unsigned char* f = x + pos + 4;
        std::uint32_t used = 0;
        const auto take = [&](std::uint64_t& v) {
          if (used + 8 > size)
            fail(where_, "member '{}': corrupt ZIP64 extra field", printable(m.name));
          v = u64(f + used);
          used += 8;
        };
        if (need_u) take(m.uncompressed);
        if (need_c) take(m.compressed);
        if (need_o) take(m.local_offset);
        return;
      }
      pos += 4 + size;
    }
    if (need_u || need_c || need_o)
      fail(where_, "member '{}': ZIP64 sizes announced but no ZIP64 extra field",
           printable(m.name));
  }

  const unsigned char* p_;
  std::size_t size_;
  const std::string& where_;
};

std::uint32_t crc32_of(const unsigned char* p, std::uint64_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<std::uint64_t>(n, UINT_MAX));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

// Raw deflate (no zlib header, as ZIP stores it) that must inflate to exactly `out_size` bytes.
std::vector<unsigned char> inflate_member(const unsigned char* in, std::uint64_t in_size,
                                          std::uint64_t out_size, const std::string& where) {
  if (out_size > in_size * kMaxDeflateRatio + 1024)
    fail(where, "corrupt ZIP archive: {} compressed bytes cannot inflate to the {} bytes the "
                "directory claims",
         in_size, out_size);
  // One spare byte tells "inflates to more than the directory says" apart from an exact fit, and
  // keeps next_out non-null for an empty member (zlib rejects a null output pointer).
  std::vector<unsigned char> out(static_cast<std::size_t>(out_size) + 1);
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(where + ": zlib: inflateInit2 failed");
  std::uint64_t in_left = in_size, out_left = out.size();
  z.next_in = const_cast<Bytef*>(in);  // zlib's API is not const-correct; it does not write
  z.next_out = out.data();
  int rc = Z_OK;
  while (rc == Z_OK) {
    // uInt is 32 bits: feed and drain in chunks.
    const uInt ai = static_cast<uInt>(std::min<std::uint64_t>(in_left, UINT_MAX));
    const uInt ao = static_cast<uInt>(std::min<std::uint64_t>(out_left, UINT_MAX));
    z.avail_in = ai;
    z.avail_out = ao;
    rc = inflate(&z, Z_NO_FLUSH);
    in_left -= ai - z.avail_in;
    out_left -= ao - z.avail_out;
  }
  const std::string msg = z.msg ? z.msg : "";
  inflateEnd(&z);
  const std::uint64_t produced = out.size() - out_left;
  if (rc == Z_STREAM_END && produced == out_size) {
    out.pop_back();
    return out;
  }
  if (rc == Z_MEM_ERROR) throw Error(where + ": zlib: out of memory");
  if (produced > out_size)
    fail(where, "corrupt ZIP archive: the member inflates to more than the {} bytes the directory "
                "says",
         out_size);
  if (rc == Z_STREAM_END)
    fail(where, "corrupt ZIP archive: the member inflates to {} bytes, the directory says {}",
         produced, out_size);
  if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
    fail(where, "corrupt deflate data (zlib: {})", msg.empty() ? "data error" : msg);
  // Z_BUF_ERROR: the input ran out before the end of the deflate stream.
  fail(where, "truncated deflate data: the member ends after {} of {} bytes", produced, out_size);
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<Array> parse_npz(const void* bytes, std::size_t size,
                             const std::string& name_for_errors) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  if (size > 0 && !p) fail(name_for_errors, "no data (null pointer with {} bytes)", size);
  ZipReader zip(p, size, name_for_errors);
  std::vector<Array> arrays;
  for (const Member& m : zip.members()) {
    if (!ends_with(m.name, ".npy")) continue;  // directories, non-array members
    const std::string where = fmt::format("{}: member '{}'", name_for_errors, printable(m.name, 200));
    if (m.flags & 0x1) fail(where, "encrypted members are not supported");
    if (m.method != 0 && m.method != 8)
      fail(where, "compression method {} is not supported (only stored and deflate)", m.method);
    const std::uint64_t start = zip.data_offset(m, where);
    const unsigned char* data = p + start;
    std::vector<unsigned char> inflated;
    if (m.method == 8) {
      inflated = inflate_member(data, m.compressed, m.uncompressed, where);
      data = inflated.data();
    } else if (m.compressed != m.uncompressed) {
      fail(where, "corrupt ZIP archive: stored member with compressed size {} but size {}",
           m.compressed, m.uncompressed);
    }
    const std::uint32_t crc = crc32_of(data, m.uncompressed);
    if (crc != m.crc)
      fail(where, "CRC-32 mismatch (directory says {:08x}, data gives {:08x}): the archive is "
                  "corrupt",
           m.crc, crc);
    Array a = parse_npy(data, static_cast<std::size_t>(m.uncompressed), where);
    a.name = m.name.substr(0, m.name.size() - 4);
    arrays.push_back(std::move(a));
  }
  return arrays;
}

std::vector<Array> read_npz(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_file(path);
  return parse_npz(bytes.data(), bytes.size(), path);
}

}  // namespace dynx::io
