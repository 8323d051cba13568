// SVG heatmap writer.
//
// Colours: viridis (van der Walt and Smith, matplotlib 2.0, public domain), a perceptually uniform
// colormap that reads correctly in greyscale and for common colour-vision deficiencies. We
// interpolate linearly in sRGB between ten evenly spaced anchor colours, which stays within a
// couple of levels per channel of the 256-entry table.
//
// Up to kMaxRectCells cells each cell is a <rect> with a <title> tooltip. Larger matrices would
// make files of tens of megabytes that viewers struggle with, so the cells become one embedded PNG
// (a square of pixels per cell); the PNG is encoded here with zlib.

#include <dynx/io.hpp>

#include "io/util.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <string>
#include <utility>

namespace dynx::io {
namespace {

constexpr std::int64_t kMaxRectCells = 100 * 100;
constexpr std::int64_t kMaxValueText = 20;  // values printed in cells up to 20×20
constexpr double kMaxGrid = 900;            // px, longer side of the cell grid
constexpr double kMaxCell = 48;             // px
constexpr std::size_t kMaxLabelChars = 32;  // longer labels are cut with an ellipsis
constexpr double kCharWidth = 0.6;          // average glyph advance per font size, sans-serif

struct Rgb {
  unsigned char r, g, b;
};

constexpr Rgb kViridis[] = {{0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3e, 0x4a, 0x89},
                            {0x31, 0x68, 0x8e}, {0x26, 0x82, 0x8e}, {0x1f, 0x9e, 0x89},
                            {0x35, 0xb7, 0x79}, {0x6d, 0xcd, 0x59}, {0xb4, 0xde, 0x2c},
                            {0xfd, 0xe7, 0x25}};
constexpr int kAnchors = static_cast<int>(sizeof kViridis / sizeof kViridis[0]);
constexpr Rgb kNanGrey = {0xc8, 0xc8, 0xc8};

// Viridis at t in [0, 1].
Rgb viridis(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const double x = t * (kAnchors - 1);
  const int i = std::min(static_cast<int>(x), kAnchors - 2);
  const double f = x - i;
  const auto mix = [f](unsigned char a, unsigned char b) {
    return static_cast<unsigned char>(std::lround(a + (b - a) * f));
  };
  const Rgb& a = kViridis[i];
  const Rgb& b = kViridis[i + 1];
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

// WCAG relative luminance; black text reads better than white above ~0.18.
bool dark_text_on(Rgb c) {
  const auto lin = [](unsigned char v) {
    const double s = v / 255.0;
    return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b) > 0.179;
}

// Text escaped for XML character data and attributes: invalid UTF-8 and characters XML forbids
// become U+FFFD, control characters become spaces, and the text is cut to `max_chars` characters.
// `chars` receives the number of characters kept, for width estimates.
std::string xml_text(std::string_view s, std::size_t max_chars, std::size_t* chars = nullptr) {
  std::string out;
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (n == max_chars) {
      out += "\xe2\x80\xa6";  // …
      ++n;
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0;
    int len = 0;
    if (c < 0x80) {
      cp = c, len = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f, len = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f, len = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07, len = 4;
    }
    bool valid = len > 0 && i + len <= s.size();
    for (int k = 1; valid && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      valid = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates, values past U+10FFFF and the non-characters XML excludes.
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (valid && (cp < kMin[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
                  cp == 0xfffe || cp == 0xffff))
      valid = false;
    if (!valid) {
      out += "\xef\xbf\xbd";  // U+FFFD
      i += 1;
    } else {
      switch (cp) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
          if (cp < 0x20 || cp == 0x7f)
            out += ' ';
          else
            out.append(s.data() + i, static_cast<std::size_t>(len));
      }
      i += static_cast<std::size_t>(len);
    }
    ++n;
  }
  if (chars) *chars = n;
  return out;
}

// Coordinates with up to two decimals and no trailing zeros.
std::string px(double v) {
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string value_text(double v, const char* spec) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format(fmt::runtime(spec), v);
}

// --- PNG (RFC 2083) ------------------------------------------------------------------------------

void put_be32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xff);
}

void png_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = out.size();
  out.append(type, 4);
  out += data;
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out.data() + start),
                          static_cast<uInt>(out.size() - start));
  put_be32(out, static_cast<std::uint32_t>(crc));
}

// An 8-bit RGB PNG of `rgb` (height rows of width × 3 bytes). A row equal to the one above is
// written with the "Up" filter (all zeros), so scaled-up cells cost almost nothing.
std::string png_rgb(const std::vector<unsigned char>& rgb, std::uint32_t width,
                    std::uint32_t height, const std::string& where) {
  const std::size_t stride = std::size_t{width} * 3;
  std::vector<unsigned char> raw;
  raw.reserve((stride + 1) * height);
  for (std::uint32_t y = 0; y < height; ++y) {
    const unsigned char* row = rgb.data() + std::size_t{y} * stride;
    if (y > 0 && std::equal(row, row + stride, row - stride)) {
      raw.push_back(2);
      raw.insert(raw.end(), stride, 0);
    } else {
      raw.push_back(0);
      raw.insert(raw.end(), row, row + stride);
    }
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(&packed[0]), &packed_size, raw.data(),
                static_cast<uLong>(raw.size()), 6) != Z_OK)
    throw Error(where + ": zlib could not compress the heatmap image");
  packed.resize(packed_size);

  std::string ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, filter 0, no interlace
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png_chunk(png, "IHDR", ihdr);
  png_chunk(png, "IDAT", packed);
  png_chunk(png, "IEND", "");
  return png;
}

std::string base64(const std::string& in) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                            static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kDigits[(v >> s) & 63];
  }
  if (i < in.size()) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += i + 1 < in.size() ? kDigits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Labels of one axis: which are drawn, escaped, and the widest one's estimated width.
struct AxisLabels {
  std::vector<std::string> text;  // escaped; empty when not drawn
  std::int64_t step = 1;          // every step-th label is drawn
  double max_width = 0;           // px at `font`
  double font = 12;
  bool any() const { return !text.empty(); }
};

AxisLabels layout_labels(const std::vector<std::string>& labels, double cell) {
  AxisLabels a;
  if (labels.empty()) return a;
  a.font = std::clamp(cell * 0.6, 8.0, 12.0);
  // Thin the labels out so that neighbours are at least a line apart.
  a.step = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((a.font + 2) / cell)));
  a.text.resize(labels.size());
  for (std::size_t i = 0; i < labels.size(); i += static_cast<std::size_t>(a.step)) {
    std::size_t chars = 0;
    a.text[i] = xml_text(labels[i], kMaxLabelChars, &chars);
    a.max_width = std::max(a.max_width, static_cast<double>(chars) * a.font * kCharWidth);
  }
  return a;
}


constexpr const char* kSvgRoot =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" ";

/// One heatmap as a complete SVG document (arguments already checked); its size in px goes to
/// `size_out`.
std::string render_heatmap(std::int64_t rows, std::int64_t cols, const double* row_major,
                           const std::vector<std::string>& row_labels,
                           const std::vector<std::string>& col_labels, const std::string& title,
                           const std::string& value_label, const std::string& path,
                           std::pair<double, double>& size_out) {
  const std::int64_t count = rows * cols;

  // Value range over finite entries; ±inf take the end colours, NaN is grey.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  bool any_nan = false;
  for (std::int64_t i = 0; i < count; ++i) {
    const double v = row_major[i];
    if (std::isnan(v)) any_nan = true;
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  const bool any_finite = lo <= hi;
  const auto colour = [&](double v) {
    if (std::isnan(v)) return kNanGrey;
    if (!any_finite || hi == lo) return viridis(std::isinf(v) ? (v > 0 ? 1.0 : 0.0) : 0.5);
    return viridis((v - lo) / (hi - lo));
  };

  // --- layout (px) ---
  const double cell = std::min(kMaxCell, kMaxGrid / static_cast<double>(std::max<std::int64_t>(
                                                        {rows, cols, std::int64_t{1}})));
  const double grid_w = static_cast<double>(cols) * cell, grid_h = static_cast<double>(rows) * cell;
  const double pad = 12;
  std::size_t title_chars = 0, value_label_chars = 0;
  const std::string title_xml = xml_text(title, 200, &title_chars);
  const std::string value_label_xml = xml_text(value_label, 60, &value_label_chars);
  const double title_font = 16, tick_font = 11;
  const double title_h = title.empty() ? 0 : title_font + 14;

  const AxisLabels rl = layout_labels(row_labels, cell);
  const AxisLabels cl = layout_labels(col_labels, cell);
  const bool rotate_cols = cl.any() && cl.max_width > cell * static_cast<double>(cl.step) - 4;
  const double col_area = !cl.any() ? 0 : rotate_cols ? cl.max_width + 8 : cl.font + 8;
  const double row_area = rl.any() ? rl.max_width + 8 : 0;

  const double grid_x = pad + row_area;
  const double grid_y = pad + title_h + col_area;
  const double bar_x = grid_x + grid_w + 20, bar_y = grid_y, bar_w = 16;
  const double bar_h = std::max(grid_h, 150.0);
  const std::string hi_text = any_finite ? value_text(hi, "{:.4g}") : "no finite values";
  const std::string lo_text = any_finite ? value_text(lo, "{:.4g}") : "";
  const double tick_x = bar_x + bar_w + 6;
  // lo/2 + hi/2: hi - lo may overflow.
  const std::string mid_text = any_finite ? value_text(lo / 2 + hi / 2, "{:.4g}") : "";
  const double tick_w = static_cast<double>(std::max({hi_text.size(), lo_text.size(),
                                                      mid_text.size()})) *
                        tick_font * kCharWidth;
  const double value_label_x = tick_x + tick_w + 10 + tick_font;
  const double right = value_label.empty() ? tick_x + tick_w : value_label_x + 4;
  const double width = std::max({right + pad, grid_x + grid_w + pad,
                                 2 * pad + static_cast<double>(title_chars) * title_font * 0.68});
  const double nan_legend_h = any_nan ? 28 : 0;
  const double height = std::max(grid_y + grid_h, bar_y + bar_h + nan_legend_h) + pad;

  const bool as_image = count > kMaxRectCells;
  std::string svg;
  auto out = std::back_inserter(svg);
  fmt::format_to(out,
                 "{2}width=\"{0}\" height=\"{1}\" "
                 "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, "
                 "sans-serif\">\n",
                 px(std::ceil(width)), px(std::ceil(height)), kSvgRoot);
  size_out = {std::ceil(width), std::ceil(height)};
  fmt::format_to(out, "<title>{}</title>\n", title.empty() ? "heatmap" : title_xml);
  svg += "<defs>\n<linearGradient id=\"dynx-viridis\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n";
  for (int i = 0; i < kAnchors; ++i)
    fmt::format_to(out, "<stop offset=\"{}\" stop-color=\"{}\"/>\n",
                   px(static_cast<double>(i) / (kAnchors - 1)), hex(kViridis[i]));
  svg += "</linearGradient>\n";
  fmt::format_to(out,
                 "<pattern id=\"dynx-nan\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
                 "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"{}\"/>"
                 "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8c8c8c\" "
                 "stroke-width=\"2\"/></pattern>\n</defs>\n",
                 hex(kNanGrey));
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!title.empty())
    fmt::format_to(out,
                   "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" "
                   "font-weight=\"bold\" fill=\"#222222\">{}</text>\n",
                   px(width / 2), px(pad + title_font), px(title_font), title_xml);

  // --- cells ---
  if (count == 0) {
    fmt::format_to(out, "<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#555555\">(empty {}x{} "
                        "matrix)</text>\n",
                   px(grid_x), px(grid_y + 12), rows, cols);
  } else if (as_image) {
    // Each cell is scale×scale pixels, close to its size on screen, so that renderers which
    // smooth scaled images (most ignore image-rendering) still show sharp cells.
    const std::int64_t scale = std::clamp<std::int64_t>(static_cast<std::int64_t>(cell), 1, 8);
    const std::int64_t w = cols * scale, h = rows * scale;
    std::vector<unsigned char> rgb(static_cast<std::size_t>(w * h) * 3);
    for (std::int64_t i = 0; i < rows; ++i) {
      unsigned char* line = rgb.data() + i * scale * w * 3;
      for (std::int64_t j = 0; j < cols; ++j) {
        const Rgb c = colour(row_major[i * cols + j]);
        for (std::int64_t k = 0; k < scale; ++k) {
          unsigned char* px3 = line + (j * scale + k) * 3;
          px3[0] = c.r, px3[1] = c.g, px3[2] = c.b;
        }
      }
      for (std::int64_t k = 1; k < scale; ++k) std::copy(line, line + w * 3, line + k * w * 3);
    }
    const std::string png =
        png_rgb(rgb, static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(h), path);
    fmt::format_to(out,
                   "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" "
                   "image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated\" "
                   "xlink:href=\"data:image/png;base64,{}\"/>\n",
                   px(grid_x), px(grid_y), px(grid_w), px(grid_h), base64(png));
  } else {
    const auto label = [](const std::vector<std::string>& l, std::int64_t i) {
      return l.empty() ? std::to_string(i) : xml_text(l[static_cast<std::size_t>(i)], 64);
    };
    fmt::format_to(out, "<g transform=\"translate({},{})\" shape-rendering=\"crispEdges\">\n",
                   px(grid_x), px(grid_y));
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) {
        const double v = row_major[i * cols + j];
        fmt::format_to(out,
                       "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}, "
                       "{}: {}</title></rect>\n",
                       px(static_cast<double>(j) * cell), px(static_cast<double>(i) * cell),
                       px(cell), px(cell),
                       std::isnan(v) ? std::string("url(#dynx-nan)") : hex(colour(v)),
                       label(row_labels, i), label(col_labels, j), value_text(v, "{:.6g}"));
      }
    svg += "</g>\n";
    if (rows <= kMaxValueText && cols <= kMaxValueText) {
      // One font size for all cells, from the longest printed value.
      std::size_t longest = 1;
      for (std::int64_t i = 0; i < count; ++i)
        longest = std::max(longest, value_text(row_major[i], "{:.3g}").size());
      const double font = std::min(12.0, (cell - 4) / (kCharWidth * static_cast<double>(longest)));
      if (font >= 6) {
        fmt::format_to(out, "<g font-size=\"{}\" text-anchor=\"middle\">\n", px(font));
        for (std::int64_t i = 0; i < rows; ++i)
          for (std::int64_t j = 0; j < cols; ++j) {
            const double v = row_major[i * cols + j];
            fmt::format_to(out, "<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n",
                           px(grid_x + (static_cast<double>(j) + 0.5) * cell),
                           px(grid_y + (static_cast<double>(i) + 0.5) * cell + 0.35 * font),
                           dark_text_on(colour(v)) ? "#000000" : "#ffffff",
                           value_text(v, "{:.3g}"));
          }
        svg += "</g>\n";
      }
    }
  }
  fmt::format_to(out,
                 "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                 "stroke=\"#444444\" stroke-width=\"0.5\"/>\n",
                 px(grid_x), px(grid_y), px(grid_w), px(grid_h));

  // --- labels ---
  if (rl.any()) {
    fmt::format_to(out, "<g font-size=\"{}\" text-anchor=\"end\" fill=\"#222222\">\n", px(rl.font));
    for (std::int64_t i = 0; i < rows; i += rl.step)
      fmt::format_to(out, "<text x=\"{}\" y=\"{}\">{}</text>\n", px(grid_x - 4),
                     px(grid_y + (static_cast<double>(i) + 0.5) * cell + 0.35 * rl.font),
                     rl.text[static_cast<std::size_t>(i)]);
    svg += "</g>\n";
  }
  if (cl.any()) {
    fmt::format_to(out, "<g font-size=\"{}\" text-anchor=\"{}\" fill=\"#222222\">\n", px(cl.font),
                   rotate_cols ? "start" : "middle");
    for (std::int64_t j = 0; j < cols; j += cl.step) {
      const double cx = grid_x + (static_cast<double>(j) + 0.5) * cell;
      if (rotate_cols)  // reads bottom to top, starting just above its column
        fmt::format_to(out, "<text transform=\"translate({},{}) rotate(-90)\">{}</text>\n",
                       px(cx + 0.35 * cl.font), px(grid_y - 4), cl.text[static_cast<std::size_t>(j)]);
      else
        fmt::format_to(out, "<text x=\"{}\" y=\"{}\">{}</text>\n", px(cx), px(grid_y - 5),
                       cl.text[static_cast<std::size_t>(j)]);
    }
    svg += "</g>\n";
  }

  // --- colour bar ---
  fmt::format_to(out,
                 "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#dynx-viridis)\" "
                 "stroke=\"#444444\" stroke-width=\"0.5\"/>\n",
                 px(bar_x), px(bar_y), px(bar_w), px(bar_h));
  fmt::format_to(out, "<g font-size=\"{}\" fill=\"#222222\">\n", px(tick_font));
  if (any_finite && hi != lo) {
    for (const auto& [y, text] : {std::pair{bar_y, hi_text}, std::pair{bar_y + bar_h, lo_text},
                                  std::pair{bar_y + bar_h / 2, mid_text}})
      fmt::format_to(out,
                     "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#444444\"/>"
                     "<text x=\"{3}\" y=\"{4}\">{5}</text>\n",
                     px(bar_x + bar_w), px(y), px(bar_x + bar_w + 4), px(tick_x),
                     px(y + 0.35 * tick_font), text);
  } else {
    fmt::format_to(out, "<text x=\"{}\" y=\"{}\">{}</text>\n", px(tick_x),
                   px(bar_y + bar_h / 2 + 0.35 * tick_font), hi_text);
  }
  svg += "</g>\n";
  if (!value_label.empty())
    fmt::format_to(out,
                   "<text transform=\"translate({},{}) rotate(90)\" text-anchor=\"middle\" "
                   "font-size=\"{}\" fill=\"#222222\">{}</text>\n",
                   px(value_label_x - 0.35 * tick_font), px(bar_y + bar_h / 2), px(tick_font),
                   value_label_xml);
  if (any_nan)
    fmt::format_to(out,
                   "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"14\" fill=\"{}\" "
                   "stroke=\"#444444\" stroke-width=\"0.5\"/><text x=\"{}\" y=\"{}\" "
                   "font-size=\"{}\" fill=\"#222222\">NaN</text>\n",
                   px(bar_x), px(bar_y + bar_h + 12), px(bar_w),
                   as_image ? hex(kNanGrey) : std::string("url(#dynx-nan)"), px(tick_x),
                   px(bar_y + bar_h + 19 + 0.35 * tick_font), px(tick_font));
  svg += "</svg>\n";
  return svg;
}

}  // namespace

void write_heatmap_svg(const std::string& path, std::int64_t rows, std::int64_t cols,
                       const double* row_major, const std::vector<std::string>& row_labels,
                       const std::vector<std::string>& col_labels, const std::string& title,
                       const std::string& value_label) {
  detail::check_matrix_args(path, "write_heatmap_svg", rows, cols, row_major, row_labels,
                            col_labels);
  std::pair<double, double> size;
  detail::write_file(path, render_heatmap(rows, cols, row_major, row_labels, col_labels, title,
                                          value_label, path, size));
}

void write_heatmap_panels_svg(const std::string& path, const std::vector<HeatmapPanel>& panels,
                              const std::string& title) {
  if (panels.empty()) detail::fail(path, "write_heatmap_panels_svg needs at least one panel");
  const double pad = 12, title_h = title.empty() ? 0 : 30;
  std::string body;
  double x = 0, height = 0;
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const HeatmapPanel& p = panels[k];
    detail::check_matrix_args(path + " (panel " + std::to_string(k) + ")",
                              "write_heatmap_panels_svg", p.rows, p.cols, p.row_major,
                              p.row_labels, p.col_labels);
    std::pair<double, double> size;
    std::string svg = render_heatmap(p.rows, p.cols, p.row_major, p.row_labels, p.col_labels,
                                     p.title, p.value_label, path, size);
    // Nest the panel's document at its place: its root element becomes a positioned <svg>.
    svg.replace(0, std::char_traits<char>::length(kSvgRoot),
                fmt::format("<svg x=\"{}\" y=\"{}\" ", px(x), px(title_h)));
    body += svg;
    x += size.first;
    height = std::max(height, size.second);
  }
  std::size_t title_chars = 0;
  const std::string title_xml = xml_text(title, 200, &title_chars);
  const double width = std::max(x, 2 * pad + static_cast<double>(title_chars) * 18 * 0.68);
  std::string svg = fmt::format(
      "{}width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"DejaVu Sans, Helvetica, "
      "Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
      kSvgRoot, px(std::ceil(width)), px(std::ceil(height + title_h)), px(std::ceil(width)),
      px(std::ceil(height + title_h)));
  if (!title.empty())
    svg += fmt::format("<title>{0}</title>\n<text x=\"{1}\" y=\"24\" font-size=\"18\" "
                       "font-weight=\"bold\" fill=\"#222222\">{0}</text>\n",
                       title_xml, px(pad));
  svg += body;
  svg += "</svg>\n";
  detail::write_file(path, svg);
}

namespace {

// Round tick positions (1, 2, 5 × 10^k) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double span = hi - lo;
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step)
    t.push_back(std::fabs(v) < 1e-12 * step ? 0.0 : v);
  return t;
}

// One plot of `series` against x (checked by the caller) with its top-left corner at (0, y0): the
// SVG elements, and the height used. `title` may be empty.
std::string render_line_plot(const std::vector<double>& x, const std::vector<LineSeries>& series,
                             const std::vector<Rgb>& colours, const std::string& title,
                             const std::string& x_label, const std::string& y_label, double y0,
                             double plot_h, double& height) {
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  for (const LineSeries& sr : series)
    for (double v : sr.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi)) lo = 0, hi = 1;  // nothing finite: an empty frame
  if (hi - lo < 1e-9 * std::max(1.0, std::fabs(hi))) {
    const double half = std::max(0.5e-6, 1e-6 * std::fabs(hi));
    lo -= half, hi += half;
  }
  const double pad_y = 0.05 * (hi - lo);
  lo -= pad_y;
  hi += pad_y;
  double xlo = x.front(), xhi = x.back();
  if (xhi == xlo) xlo -= 0.5, xhi += 0.5;
  const double left = 80, top = y0 + (title.empty() ? 12 : 40), plot_w = 560;
  auto sx = [&](double v) { return left + (v - xlo) / (xhi - xlo) * plot_w; };
  auto sy = [&](double v) { return top + (hi - v) / (hi - lo) * plot_h; };
  std::string svg;
  if (!title.empty())
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" font-weight=\"bold\" "
                       "fill=\"#222222\">{}</text>\n",
                       px(left), px(y0 + 26), y0 == 0 ? 18 : 14, xml_text(title, 200));
  for (double t : nice_ticks(lo, hi, std::max(4, int(plot_h / 60))))
    svg += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>\n"
                       "<text x=\"{3}\" y=\"{4}\" font-size=\"11\" text-anchor=\"end\" "
                       "fill=\"#444444\">{5}</text>\n",
                       px(left), px(left + plot_w), px(sy(t)), px(left - 6), px(sy(t) + 4),
                       value_text(t, "{:.6g}"));
  for (double t : nice_ticks(xlo, xhi, 6))
    svg += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>\n"
                       "<text x=\"{0}\" y=\"{3}\" font-size=\"11\" text-anchor=\"middle\" "
                       "fill=\"#444444\">{4}</text>\n",
                       px(sx(t)), px(top), px(top + plot_h), px(top + plot_h + 16),
                       value_text(t, "{:.6g}"));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                     "stroke=\"#444444\"/>\n",
                     px(left), px(top), px(plot_w), px(plot_h));
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" "
                     "fill=\"#222222\">{}</text>\n",
                     px(left + plot_w / 2), px(top + plot_h + 36), xml_text(x_label, 120));
  svg += fmt::format("<text transform=\"translate({},{}) rotate(-90)\" font-size=\"13\" "
                     "text-anchor=\"middle\" fill=\"#222222\">{}</text>\n",
                     px(16), px(top + plot_h / 2), xml_text(y_label, 120));
  // Series: polylines (broken at non-finite values), markers with tooltips, legend entries.
  for (std::size_t k = 0; k < series.size(); ++k) {
    const std::string colour = hex(colours[k]);
    std::string pts;
    auto flush = [&] {
      if (!pts.empty())
        svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n",
                           colour, pts);
      pts.clear();
    };
    const LineSeries& sr = series[k];
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(sr.y[i])) {
        flush();
        continue;
      }
      pts += fmt::format("{}{},{}", pts.empty() ? "" : " ", px(sx(x[i])), px(sy(sr.y[i])));
    }
    flush();
    if (x.size() <= 200)
      for (std::size_t i = 0; i < x.size(); ++i)
        if (std::isfinite(sr.y[i]))
          svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{}\"><title>{}: x = {}, "
                             "y = {}</title></circle>\n",
                             px(sx(x[i])), px(sy(sr.y[i])), colour, xml_text(sr.label, 80),
                             value_text(x[i], "{:.6g}"), value_text(sr.y[i], "{:.6g}"));
    const double ly = top + 14 + 20 * double(k);
    svg += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" "
                       "stroke-width=\"3\"/>\n<text x=\"{4}\" y=\"{5}\" font-size=\"12\" "
                       "fill=\"#222222\">{6} = {7}</text>\n",
                       px(left + plot_w + 20), px(left + plot_w + 44), px(ly), colour,
                       px(left + plot_w + 50), px(ly + 4), xml_text(sr.label, 24),
                       value_text(sr.y.back(), "{:.6g}"));
  }
  height = top - y0 + plot_h + 50;
  return svg;
}

}  // namespace

void write_line_plot_svg(const std::string& path, const std::vector<double>& x,
                         const std::vector<LineSeries>& series, const std::string& title,
                         const std::string& x_label, const std::string& y_label,
                         bool panel_per_series) {
  if (series.empty()) detail::fail(path, "write_line_plot_svg needs at least one series");
  if (x.empty()) detail::fail(path, "write_line_plot_svg needs at least one x value");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]) || (i > 0 && !(x[i] > x[i - 1])))
      detail::fail(path, "write_line_plot_svg: x must be finite and increasing");
  for (std::size_t k = 0; k < series.size(); ++k)
    if (series[k].y.size() != x.size())
      detail::fail(path, fmt::format("write_line_plot_svg: series {} has {} values for {} x values",
                                     k, series[k].y.size(), x.size()));
  std::vector<Rgb> colours;
  for (std::size_t k = 0; k < series.size(); ++k)
    colours.push_back(viridis(series.size() == 1 ? 0.0 : 0.85 * double(k) / double(series.size() - 1)));
  std::string body;
  double y = 0;
  if (!panel_per_series) {
    double h = 0;
    body = render_line_plot(x, series, colours, title, x_label, y_label, 0, 340, h);
    y = h;
  } else {
    if (!title.empty()) {
      body += fmt::format("<text x=\"80\" y=\"28\" font-size=\"18\" font-weight=\"bold\" "
                          "fill=\"#222222\">{}</text>\n",
                          xml_text(title, 200));
      y = 36;
    }
    for (std::size_t k = 0; k < series.size(); ++k) {
      double h = 0;
      body += render_line_plot(x, {series[k]}, {colours[k]}, "", x_label, series[k].label, y, 150, h);
      y += h;
    }
  }
  const double width = 80 + 560 + 20 + 230;
  std::string svg = fmt::format(
      "{}width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"DejaVu Sans, Helvetica, "
      "Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
      kSvgRoot, px(width), px(std::ceil(y)), px(width), px(std::ceil(y)));
  if (!title.empty()) svg += fmt::format("<title>{}</title>\n", xml_text(title, 200));
  svg += body;
  svg += "</svg>\n";
  detail::write_file(path, svg);
}

}  // namespace dynx::io
