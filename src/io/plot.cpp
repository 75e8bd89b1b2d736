#include "io/plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <limits>
#include <stdexcept>

#include <cairo-svg.h>
#include <cairo.h>
#include <fmt/core.h>

#include "core/file_io.hpp"

namespace dn {

namespace {

// Tableau's ten colours: distinct on screen and in most colour-blind views.
constexpr std::array<Rgb, 10> kPalette = {{{31, 119, 180},
                                           {255, 127, 14},
                                           {44, 160, 44},
                                           {214, 39, 40},
                                           {148, 103, 189},
                                           {140, 86, 75},
                                           {227, 119, 194},
                                           {127, 127, 127},
                                           {188, 189, 34},
                                           {23, 190, 207}}};
// Series k's marker shape: the shapes cycle with the colours, and a second round of the
// palette moves on by one shape, so that no two of up to 50 series look alike (with ten
// colours and five shapes, series 0 and 10 would).
int marker_shape(std::size_t k) { return int(k + k / kPalette.size()); }
// The second round of the palette draws dashed lines, so that colours met twice differ in line too.
bool dashed(std::size_t k) { return (k / kPalette.size()) % 2 == 1; }

constexpr Rgb kInk{40, 40, 40};
constexpr Rgb kGrid{225, 225, 225};
constexpr const char* kFontFace = "DejaVu Sans";  // fonts-dejavu-core; fontconfig picks a sans face without it
constexpr double kFontSize = 14;                  // pixels
constexpr int kTick = 6;                          // tick mark length
constexpr double kMarker = 4.5;                   // marker radius
constexpr int kPad = 12;

struct Axis {
  double lo = 0, hi = 1, step = 0.2;
};

// 1, 2 or 5 times a power of ten, giving about `target` intervals over span.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  return (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * magnitude;
}

// The given bounds, or the data's widened to whole steps.
Axis make_axis(double data_lo, double data_hi, std::optional<double> lo, std::optional<double> hi) {
  if (!std::isfinite(data_lo)) data_lo = 0, data_hi = 1;  // no finite data at all
  Axis a{lo.value_or(data_lo), hi.value_or(data_hi), 0};
  if (!(a.hi > a.lo)) {
    const double half = a.lo != 0 ? 0.1 * std::abs(a.lo) : 1.0;
    if (!lo) a.lo -= half;
    if (!hi || !(a.hi > a.lo)) a.hi = a.lo + 2 * half;
  }
  a.step = nice_step(a.hi - a.lo, 6);
  if (!lo) a.lo = std::floor(a.lo / a.step + 1e-9) * a.step;
  if (!hi) a.hi = std::ceil(a.hi / a.step - 1e-9) * a.step;
  return a;
}

std::vector<double> ticks(const Axis& a) {
  std::vector<double> out;
  for (double k = std::ceil(a.lo / a.step - 1e-9);; k += 1) {
    const double v = k * a.step;
    if (v > a.hi + a.step * 1e-9) break;
    out.push_back(std::abs(v) < a.step * 1e-9 ? 0.0 : v);  // no "-0"
  }
  return out;
}

std::string tick_label(double v, double step) {
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

// Cairo draws on a surface of its own; these keep its calls short.
struct Canvas {
  cairo_t* cr;
  explicit Canvas(cairo_t* context) : cr(context) {
    cairo_select_font_face(cr, kFontFace, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, kFontSize);
  }

  void colour(Rgb c) { cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0); }
  double text_width(const std::string& text) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, text.c_str(), &e);
    return e.x_advance;
  }
  // Text with its left end at x and its middle (cap height) at y, turned by angle (radians, counter-clockwise).
  void text(double x, double y, const std::string& s, Rgb c, double angle = 0) {
    cairo_font_extents_t f;
    cairo_font_extents(cr, &f);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle);
    cairo_move_to(cr, 0, (f.ascent - f.descent) / 2);
    colour(c);
    cairo_show_text(cr, s.c_str());
    cairo_restore(cr);
  }
  // A line of pixel width w between pixel centres, solid or in dashes.
  void line(double xa, double ya, double xb, double yb, Rgb c, double w, bool dash = false) {
    colour(c);
    cairo_set_line_width(cr, w);
    const double pattern[2] = {7, 4};
    cairo_set_dash(cr, pattern, dash ? 2 : 0, 0);
    cairo_move_to(cr, xa, ya);
    cairo_line_to(cr, xb, yb);
    cairo_stroke(cr);
    cairo_set_dash(cr, pattern, 0, 0);
  }
  void rect(double x, double y, double w, double h, Rgb c) {
    colour(c);
    cairo_rectangle(cr, x, y, w, h);
    cairo_fill(cr);
  }
  // Shapes cycle circle, square, triangle up, diamond, triangle down.
  void marker(double x, double y, int shape, Rgb c) {
    const double r = kMarker;
    switch (shape % 5) {
      case 0: cairo_arc(cr, x, y, r, 0, 2 * M_PI); break;
      case 1: cairo_rectangle(cr, x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r); break;
      case 2: polygon({{x, y - r * 1.1}, {x + r, y + r * 0.8}, {x - r, y + r * 0.8}}); break;
      case 3: polygon({{x, y - r * 1.2}, {x + r * 1.2, y}, {x, y + r * 1.2}, {x - r * 1.2, y}}); break;
      case 4: polygon({{x, y + r * 1.1}, {x + r, y - r * 0.8}, {x - r, y - r * 0.8}}); break;
    }
    colour(c);
    cairo_fill_preserve(cr);
    colour(kWhite);  // a thin white rim keeps overlapping markers apart
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
  }
  void polygon(std::initializer_list<std::pair<double, double>> points) {
    bool first = true;
    for (auto [x, y] : points) {
      if (first) cairo_move_to(cr, x, y); else cairo_line_to(cr, x, y);
      first = false;
    }
    cairo_close_path(cr);
  }
};

// The plot drawn on any cairo surface of plot.width x plot.height (an image or an SVG).
void draw_line_plot(const LinePlot& plot, cairo_t* cr) {
  if (plot.width < 200 || plot.height < 150)
    throw std::invalid_argument(fmt::format("render_line_plot: {}x{} is too small", plot.width, plot.height));
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const PlotSeries& s : plot.series) {
    if (s.x.size() != s.y.size())
      throw std::invalid_argument("render_line_plot: series '" + s.label + "' has x and y of different lengths");
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
        y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      }
  }
  const Axis xa = make_axis(x_lo, x_hi, plot.x_min, plot.x_max);
  const Axis ya = make_axis(y_lo, y_hi, plot.y_min, plot.y_max);
  const std::vector<double> x_ticks = ticks(xa), y_ticks = ticks(ya);

  Canvas canvas(cr);
  double y_label_w = 0;
  for (double v : y_ticks) y_label_w = std::max(y_label_w, canvas.text_width(tick_label(v, ya.step)));
  const double th = kFontSize;
  const double left = kPad + (plot.y_label.empty() ? 0 : th + kPad) + y_label_w + kTick + 6;
  const double top = plot.title.empty() ? kPad + th / 2 : 2 * kPad + th * 1.2;
  const double bottom = kTick + 6 + th + (plot.x_label.empty() ? 0 : kPad + th) + kPad;
  // The plot area for a right margin; the legend sits inside it where it hides no line
  // point, else in a margin of its own on the right.
  const double row_h = th + 8, sample_w = 36;
  double label_w = 0;
  for (const PlotSeries& s : plot.series) label_w = std::max(label_w, canvas.text_width(s.label));
  // Whole pixels, so that the box's edges stay sharp.
  const double box_w = std::ceil(10 + sample_w + 8 + label_w + 10), box_h = 8 + double(plot.series.size()) * row_h;
  double ax0 = 0, ay0 = 0, ax1 = 0, ay1 = 0;
  const auto frame = [&](double right) {
    ax0 = std::round(left) + 0.5, ay0 = std::round(top) + 0.5;
    ax1 = std::round(plot.width - right) + 0.5, ay1 = std::round(plot.height - bottom) + 0.5;
  };
  frame(3 * kPad);
  if (ax1 - ax0 < 50 || ay1 - ay0 < 50) throw std::invalid_argument("render_line_plot: no room left for the plot area");
  const auto px = [&](double x) { return ax0 + (x - xa.lo) / (xa.hi - xa.lo) * (ax1 - ax0); };
  const auto py = [&](double y) { return ay1 - (y - ya.lo) / (ya.hi - ya.lo) * (ay1 - ay0); };
  // Points along every line and at every marker, which the legend should not hide.
  const std::vector<std::pair<double, double>> points = [&] {
    std::vector<std::pair<double, double>> points;
    for (const PlotSeries& s : plot.series)
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.y[i])) continue;
        points.emplace_back(px(s.x[i]), py(s.y[i]));
        if (i + 1 < s.x.size() && std::isfinite(s.y[i + 1]))
          for (int t = 1; t < 16; ++t)
            points.emplace_back(px(s.x[i] + (s.x[i + 1] - s.x[i]) * t / 16),
                                py(s.y[i] + (s.y[i + 1] - s.y[i]) * t / 16));
      }
    return points;
  }();
  // Corners in order of preference; the first hiding the fewest line points wins.
  const double inset = 10;
  const std::array<std::pair<double, double>, 4> corners = {{{ax1 - inset - box_w, ay0 + inset},
                                                             {ax0 + inset, ay1 - inset - box_h},
                                                             {ax1 - inset - box_w, ay1 - inset - box_h},
                                                             {ax0 + inset, ay0 + inset}}};
  std::pair<double, double> legend_at = corners[0];
  std::size_t least_hidden = std::numeric_limits<std::size_t>::max();
  for (const auto& corner : corners) {  // clang 14 (the fuzz build) cannot capture structured bindings
    const double bx = corner.first, by = corner.second;
    const auto hidden = std::size_t(std::count_if(points.begin(), points.end(), [&](auto p) {
      return p.first >= bx - 4 && p.first <= bx + box_w + 4 && p.second >= by - 4 && p.second <= by + box_h + 4;
    }));
    if (hidden < least_hidden) legend_at = {bx, by}, least_hidden = hidden;
  }
  // Every corner hides a line: the legend moves out, when the plot area keeps at least half the width.
  if (!plot.series.empty() && least_hidden > 0 && plot.width - left - box_w - 2 * kPad >= plot.width / 2.0) {
    frame(box_w + 2 * kPad);
    legend_at = {ax1 + kPad, ay0};
  }

  canvas.rect(0, 0, plot.width, plot.height, kWhite);
  // Grid and ticks first, so the data draws over them; lines on pixel centres stay sharp.
  for (double v : x_ticks) {
    const double x = std::round(px(v) - 0.5) + 0.5;
    canvas.line(x, ay0, x, ay1, kGrid, 1);
    canvas.line(x, ay1, x, ay1 + kTick, kInk, 1);
    const std::string label = tick_label(v, xa.step);
    canvas.text(x - canvas.text_width(label) / 2, ay1 + kTick + 6 + th / 2, label, kInk);
  }
  for (double v : y_ticks) {
    const double y = std::round(py(v) - 0.5) + 0.5;
    canvas.line(ax0, y, ax1, y, kGrid, 1);
    canvas.line(ax0 - kTick, y, ax0, y, kInk, 1);
    const std::string label = tick_label(v, ya.step);
    canvas.text(ax0 - kTick - 5 - canvas.text_width(label), y, label, kInk);
  }
  canvas.line(ax0, ay0, ax0, ay1, kInk, 1);  // y axis
  canvas.line(ax0, ay1, ax1, ay1, kInk, 1);  // x axis
  if (!plot.title.empty()) {
    cairo_set_font_size(canvas.cr, kFontSize * 1.15);
    canvas.text((plot.width - canvas.text_width(plot.title)) / 2, kPad + th / 2, plot.title, kInk);
    cairo_set_font_size(canvas.cr, kFontSize);
  }
  if (!plot.x_label.empty())
    canvas.text((ax0 + ax1 - canvas.text_width(plot.x_label)) / 2, plot.height - kPad - th / 2, plot.x_label, kInk);
  if (!plot.y_label.empty())
    canvas.text(kPad + th / 2, (ay0 + ay1 + canvas.text_width(plot.y_label)) / 2, plot.y_label, kInk, M_PI / 2);

  // Data, clipped to the plot area widened by a marker, so markers on the axes show whole.
  cairo_save(canvas.cr);
  cairo_rectangle(canvas.cr, ax0 - kMarker - 1, ay0 - kMarker - 1, ax1 - ax0 + 2 * kMarker + 2, ay1 - ay0 + 2 * kMarker + 2);
  cairo_clip(canvas.cr);
  cairo_set_line_join(canvas.cr, CAIRO_LINE_JOIN_ROUND);
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const PlotSeries& s = plot.series[k];
    const Rgb c = kPalette[k % kPalette.size()];
    for (std::size_t i = 0; i + 1 < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.y[i + 1])) continue;
      canvas.line(px(s.x[i]), py(s.y[i]), px(s.x[i + 1]), py(s.y[i + 1]), c, 2.2, dashed(k));
    }
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) canvas.marker(px(s.x[i]), py(s.y[i]), marker_shape(k), c);
  }
  cairo_restore(canvas.cr);

  if (!plot.series.empty()) {
    const double bx = std::round(legend_at.first) + 0.5, by = std::round(legend_at.second) + 0.5;
    canvas.rect(bx, by, box_w, box_h, kWhite);
    canvas.colour(kGrid);
    cairo_set_line_width(canvas.cr, 1);
    cairo_rectangle(canvas.cr, bx, by, box_w, box_h);
    cairo_stroke(canvas.cr);
    for (std::size_t k = 0; k < plot.series.size(); ++k) {
      const Rgb c = kPalette[k % kPalette.size()];
      const double cy = by + 4 + double(k) * row_h + row_h / 2;
      canvas.line(bx + 10, cy, bx + 10 + sample_w, cy, c, 2.2, dashed(k));
      canvas.marker(bx + 10 + sample_w / 2, cy, marker_shape(k), c);
      canvas.text(bx + 10 + sample_w + 8, cy, plot.series[k].label, kInk);
    }
  }
}

// Owners of cairo objects, freed however drawing ends.
using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

Context context_on(cairo_surface_t* surface) {
  Context cr(cairo_create(surface), cairo_destroy);
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) throw std::bad_alloc();
  return cr;
}

}  // namespace

Image render_line_plot(const LinePlot& plot) {
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, std::max(plot.width, 1), std::max(plot.height, 1)),
                  cairo_surface_destroy);
  draw_line_plot(plot, context_on(surface.get()).get());
  cairo_surface_flush(surface.get());
  // cairo keeps each pixel as a 0x00RRGGBB word.
  const int stride = cairo_image_surface_get_stride(surface.get());
  const unsigned char* data = cairo_image_surface_get_data(surface.get());
  Image img(plot.width, plot.height, 3);
  for (int y = 0; y < plot.height; ++y)
    for (int x = 0; x < plot.width; ++x) {
      std::uint32_t word;
      std::memcpy(&word, data + std::size_t(y) * std::size_t(stride) + std::size_t(x) * 4, 4);
      std::uint8_t* p = &img.pixels[(std::size_t(y) * std::size_t(plot.width) + std::size_t(x)) * 3];
      p[0] = std::uint8_t(word >> 16), p[1] = std::uint8_t(word >> 8), p[2] = std::uint8_t(word);
    }
  return img;
}

std::string render_line_plot_svg(const LinePlot& plot) {
  std::string svg;
  const auto append = [](void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  };
  Surface surface(cairo_svg_surface_create_for_stream(append, &svg, plot.width, plot.height), cairo_surface_destroy);
  draw_line_plot(plot, context_on(surface.get()).get());
  cairo_surface_finish(surface.get());  // writes the document's end
  return svg;
}

void write_line_plot(const std::filesystem::path& png, const LinePlot& plot) {
  const Image picture = render_line_plot(plot);
  std::filesystem::path svg = png;
  svg.replace_extension(".svg");
  write_file_atomic(svg, render_line_plot_svg(plot));
  write_png_atomic(png, picture);
}

}  // namespace dn
