#include "io/png.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <cairo.h>
#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/image_codec.hpp"

namespace dn {

namespace fs = std::filesystem;

Image::Image(int w, int h, int c, std::uint8_t fill) : width(w), height(h), channels(c) {
  if (w < 0 || h < 0 || c < 1 || c > 4) throw std::invalid_argument(fmt::format("Image({}, {}, {})", w, h, c));
  pixels.assign(std::size_t(w) * std::size_t(h) * std::size_t(c), fill);
}

static void check(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.channels < 1 || image.channels > 4 ||
      image.pixels.size() != std::size_t(image.width) * std::size_t(image.height) * std::size_t(image.channels))
    throw std::invalid_argument(fmt::format("invalid image {}x{}x{} with {} bytes", image.width, image.height,
                                            image.channels, image.pixels.size()));
}

static Picture picture_of(const Image& image) {
  check(image);
  Picture picture(image.width, image.height, image.channels, 8);
  picture.bytes = image.pixels;
  return picture;
}

void write_png_atomic(const fs::path& path, const Image& image) { write_file_atomic(path, encode_png(picture_of(image))); }

void check_picture_name(const fs::path& path, const std::string& argument) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg")
    throw ArgumentError(argument, fmt::format("must name a .png, .jpg or .jpeg file (got '{}')", path.string()));
}

void write_image_atomic(const fs::path& path, const Image& image) {
  check_picture_name(path, "path");
  write_picture_atomic(path, picture_of(image));
}

Image read_image(const fs::path& path, int channels) {
  if (channels < 0 || channels > 4) throw std::invalid_argument("read_image: channels must be 0-4");
  return image_from_picture(read_picture(path), channels);
}

Image image_from_picture(const Picture& picture, int channels) {
  if (channels < 0 || channels > 4) throw std::invalid_argument("image_from_picture: channels must be 0-4");
  const int from = picture.channels, to = channels ? channels : from;
  Image image(picture.width, picture.height, to);
  const std::size_t pixels = std::size_t(picture.width) * std::size_t(picture.height);
  for (std::size_t i = 0; i < pixels; ++i) {
    std::uint8_t in[4] = {0, 0, 0, 255};
    for (int c = 0; c < from; ++c) {
      const std::uint16_t v = picture.level(i * std::size_t(from) + std::size_t(c));
      in[c] = picture.bit_depth == 8 ? std::uint8_t(v) : std::uint8_t((v + 128u) / 257u);
    }
    const bool colour = from >= 3;
    const std::uint8_t alpha = picture.has_alpha() ? in[from - 1] : 255;
    const std::uint8_t gray =
        colour ? std::uint8_t(std::lround(0.299 * in[0] + 0.587 * in[1] + 0.114 * in[2])) : in[0];
    std::uint8_t* out = &image.pixels[i * std::size_t(to)];
    if (to <= 2) {
      out[0] = gray;
    } else {
      out[0] = colour ? in[0] : gray;
      out[1] = colour ? in[1] : gray;
      out[2] = colour ? in[2] : gray;
    }
    if (to == 2 || to == 4) out[to - 1] = alpha;
  }
  return image;
}

static std::uint8_t to_byte(float v) {
  return static_cast<std::uint8_t>(std::lround((v > 0.0f ? std::min(v, 1.0f) : 0.0f) * 255.0f));  // NaN -> 0
}

Image image_from_tensor(const Tensor& t) {
  const bool gray = t.rank() == 2 || (t.rank() == 3 && t.dim(2) == 1);
  const bool rgb = t.rank() == 3 && t.dim(2) == 3;
  if (!gray && !rgb) throw std::invalid_argument("image_from_tensor: expected [H, W, 1|3], got " + shape_str(t.shape()));
  Image image(t.dim(1), t.dim(0), rgb ? 3 : 1);
  std::transform(t.data(), t.data() + t.size(), image.pixels.begin(), to_byte);
  return image;
}

Tensor tensor_from_image(const Image& image) {
  check(image);
  Tensor t({image.height, image.width});
  const std::size_t c = std::size_t(image.channels);
  for (std::size_t i = 0; i < t.size(); ++i) {
    const std::uint8_t* p = &image.pixels[i * c];
    const float v = c >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : float(p[0]);
    t[i] = v / 255.0f;
  }
  return t;
}

void fill_rect(Image& image, int x, int y, int width, int height, Rgb colour) {
  const int x1 = std::min(image.width, x + width), y1 = std::min(image.height, y + height);
  const std::size_t c = std::size_t(image.channels);
  const std::uint8_t gray = std::uint8_t(std::lround(0.299 * colour.r + 0.587 * colour.g + 0.114 * colour.b));
  for (int r = std::max(0, y); r < y1; ++r)
    for (int col = std::max(0, x); col < x1; ++col) {
      std::uint8_t* p = &image.pixels[(std::size_t(r) * std::size_t(image.width) + std::size_t(col)) * c];
      if (c >= 3) {
        p[0] = colour.r, p[1] = colour.g, p[2] = colour.b;
      } else {
        p[0] = gray;
      }
      if (c == 2 || c == 4) p[c - 1] = 255;  // drawn pixels are opaque
    }
}

// Text is drawn by cairo in DejaVu Sans (fonts-dejavu-core; fontconfig's default sans
// without it), antialiased, onto an alpha mask the size of the text's box, which is
// then blended in: no ink falls outside the box that text_width and text_height give.
static constexpr const char* kTextFace = "DejaVu Sans";
static double text_font_size(int scale) { return 6.8 * scale; }  // ascent + descent within 8 * scale

// A cairo context on a surface, set to the text font, freed with it.
struct TextContext {
  cairo_surface_t* surface;
  cairo_t* cr;
  TextContext(int width, int height, int scale)
      : surface(cairo_image_surface_create(CAIRO_FORMAT_A8, width, height)), cr(cairo_create(surface)) {
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) throw std::bad_alloc();
    cairo_select_font_face(cr, kTextFace, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, text_font_size(scale));
  }
  ~TextContext() {
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
  }
  TextContext(const TextContext&) = delete;
  TextContext& operator=(const TextContext&) = delete;
};

int text_width(std::string_view text, int scale) {
  if (text.empty()) return 0;
  TextContext t(1, 1, scale);
  const std::string s(text);
  cairo_text_extents_t e;
  cairo_text_extents(t.cr, s.c_str(), &e);
  // The advance, or the ink where a glyph reaches past it; one pixel for the antialiased edge.
  return int(std::ceil(std::max(e.x_advance, e.x_bearing + e.width))) + 1;
}

int text_height(int scale) { return 8 * scale; }

void draw_text(Image& image, int x, int y, std::string_view text, int scale, Rgb colour) {
  const int w = text_width(text, scale), h = text_height(scale);
  if (w == 0) return;
  TextContext t(w, h, scale);
  cairo_font_extents_t f;
  cairo_font_extents(t.cr, &f);
  const std::string s(text);
  cairo_move_to(t.cr, 0, std::round((h - (f.ascent + f.descent)) / 2 + f.ascent));
  cairo_show_text(t.cr, s.c_str());
  cairo_surface_flush(t.surface);
  const unsigned char* mask = cairo_image_surface_get_data(t.surface);
  const int stride = cairo_image_surface_get_stride(t.surface);
  const std::size_t c = std::size_t(image.channels);
  const double gray = 0.299 * colour.r + 0.587 * colour.g + 0.114 * colour.b;
  for (int r = std::max(0, -y); r < h && y + r < image.height; ++r)
    for (int col = std::max(0, -x); col < w && x + col < image.width; ++col) {
      const double a = mask[std::size_t(r) * std::size_t(stride) + std::size_t(col)] / 255.0;
      if (a == 0) continue;
      std::uint8_t* p = &image.pixels[(std::size_t(y + r) * std::size_t(image.width) + std::size_t(x + col)) * c];
      const auto mix = [a](std::uint8_t under, double over) { return std::uint8_t(std::lround(under + (over - under) * a)); };
      if (c >= 3) {
        p[0] = mix(p[0], colour.r), p[1] = mix(p[1], colour.g), p[2] = mix(p[2], colour.b);
      } else {
        p[0] = mix(p[0], gray);
      }
      if (c == 2 || c == 4) p[c - 1] = std::max(p[c - 1], std::uint8_t(std::lround(255 * a)));
    }
}

Image make_grid(const std::vector<Tensor>& rows, const std::vector<std::string>& row_labels, int scale) {
  if (rows.empty() || scale < 1) throw std::invalid_argument("make_grid: no rows or scale < 1");
  if (!row_labels.empty() && row_labels.size() != rows.size())
    throw std::invalid_argument("make_grid: one label per row expected");
  const int h = rows[0].rank() >= 3 ? rows[0].dim(1) : 0, w = rows[0].rank() >= 3 ? rows[0].dim(2) : 0;
  int columns = 0;
  for (const Tensor& row : rows) {
    const bool ok = (row.rank() == 3 || (row.rank() == 4 && row.dim(3) == 1)) && row.dim(1) == h && row.dim(2) == w;
    if (!ok) throw std::invalid_argument("make_grid: rows must be [N, H, W] of equal H, W; got " + shape_str(row.shape()));
    columns = std::max(columns, row.dim(0));
  }
  const int gap = std::max(1, scale / 2);  // grey lines between cells
  const int font = std::max(1, scale / 2);
  const int cell_w = w * scale, cell_h = h * scale;
  int label_w = 0;
  for (const auto& label : row_labels) label_w = std::max(label_w, text_width(label, font));
  if (label_w) label_w += 2 * gap + 2 * font;

  const Rgb grey{96, 96, 96};
  const int rows_n = int(rows.size());
  Image grid(label_w + gap + columns * (cell_w + gap), gap + rows_n * (cell_h + gap), 1, 0);
  fill_rect(grid, label_w, 0, grid.width - label_w, grid.height, grey);
  for (int r = 0; r < rows_n; ++r) {
    const int top = gap + r * (cell_h + gap);
    if (label_w) draw_text(grid, gap + font, top + (cell_h - text_height(font)) / 2, row_labels[std::size_t(r)], font, kWhite);
    const Tensor& row = rows[std::size_t(r)];
    for (int n = 0; n < row.dim(0); ++n) {
      const float* px = row.data() + std::size_t(n) * std::size_t(h) * std::size_t(w);
      const int left = label_w + gap + n * (cell_w + gap);
      for (int y = 0; y < cell_h; ++y)
        for (int x = 0; x < cell_w; ++x)
          grid.pixels[std::size_t(top + y) * std::size_t(grid.width) + std::size_t(left + x)] =
              to_byte(px[(y / scale) * w + x / scale]);
    }
  }
  return grid;
}

}  // namespace dn
