#include "io/plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/core.h>

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
constexpr Rgb kInk{40, 40, 40};
constexpr Rgb kGrid{225, 225, 225};
constexpr int kFont = 2;       // text scale: 12 px per character, 16 px high
constexpr int kTick = 6;       // tick mark length
constexpr int kMarker = 5;     // marker radius
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

struct Rect {
  int x0, y0, x1, y1;  // inclusive
  bool contains(int x, int y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

void put(Image& img, const Rect& clip, int x, int y, Rgb c) {
  if (clip.contains(x, y)) fill_rect(img, x, y, 1, 1, c);
}

// A 3-pixel-wide line, stamped along its longer axis.
void draw_line(Image& img, const Rect& clip, int xa, int ya, int xb, int yb, Rgb c) {
  const int steps = std::max(std::abs(xb - xa), std::abs(yb - ya));
  for (int i = 0; i <= steps; ++i) {
    const double t = steps ? double(i) / steps : 0.0;
    const int x = static_cast<int>(std::lround(xa + t * (xb - xa)));
    const int y = static_cast<int>(std::lround(ya + t * (yb - ya)));
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) put(img, clip, x + dx, y + dy, c);
  }
}

// Shapes cycle circle, square, triangle up, diamond, triangle down.
void draw_marker(Image& img, const Rect& clip, int cx, int cy, int shape, Rgb c) {
  const int r = kMarker;
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx) {
      bool inside = false;
      switch (shape % 5) {
        case 0: inside = dx * dx + dy * dy <= r * r + 1; break;
        case 1: inside = std::abs(dx) <= r - 1 && std::abs(dy) <= r - 1; break;
        case 2: inside = 2 * std::abs(dx) <= dy + r; break;
        case 3: inside = std::abs(dx) + std::abs(dy) <= r; break;
        case 4: inside = 2 * std::abs(dx) <= r - dy; break;
      }
      if (inside) put(img, clip, cx + dx, cy + dy, c);
    }
}

// Text turned a quarter left, reading upwards, its top left corner at (x, y).
void draw_text_up(Image& img, int x, int y, const std::string& text, Rgb c) {
  const int w = text_width(text, kFont), h = text_height(kFont);
  if (w == 0) return;
  Image mask(w, h, 1, 0);
  draw_text(mask, 0, 0, text, kFont, kWhite);
  for (int r = 0; r < h; ++r)
    for (int col = 0; col < w; ++col)
      if (mask.pixels[std::size_t(r) * std::size_t(w) + std::size_t(col)]) fill_rect(img, x + r, y + w - 1 - col, 1, 1, c);
}

}  // namespace

Image render_line_plot(const LinePlot& plot) {
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

  int y_label_w = 0;
  for (double v : y_ticks) y_label_w = std::max(y_label_w, text_width(tick_label(v, ya.step), kFont));
  const int th = text_height(kFont);
  const int left = kPad + (plot.y_label.empty() ? 0 : th + kPad) + y_label_w + kTick + 4;
  const int top = plot.title.empty() ? kPad + th / 2 : 2 * kPad + th;
  const int bottom = kTick + 6 + th + (plot.x_label.empty() ? 0 : kPad + th) + kPad;
  const int right = 3 * kPad;
  const Rect area{left, top, plot.width - right, plot.height - bottom};
  if (area.x1 - area.x0 < 50 || area.y1 - area.y0 < 50)
    throw std::invalid_argument("render_line_plot: no room left for the plot area");

  const auto px = [&](double x) {
    return area.x0 + static_cast<int>(std::lround((x - xa.lo) / (xa.hi - xa.lo) * (area.x1 - area.x0)));
  };
  const auto py = [&](double y) {
    return area.y1 - static_cast<int>(std::lround((y - ya.lo) / (ya.hi - ya.lo) * (area.y1 - area.y0)));
  };

  Image img(plot.width, plot.height, 3, 255);
  const Rect whole{0, 0, plot.width - 1, plot.height - 1};
  // Grid and ticks first, so the data draws over them.
  for (double v : x_ticks) {
    const int x = px(v);
    fill_rect(img, x, area.y0, 1, area.y1 - area.y0, kGrid);
    fill_rect(img, x, area.y1, 1, kTick, kInk);
    const std::string label = tick_label(v, xa.step);
    draw_text(img, x - text_width(label, kFont) / 2, area.y1 + kTick + 6, label, kFont, kInk);
  }
  for (double v : y_ticks) {
    const int y = py(v);
    fill_rect(img, area.x0, y, area.x1 - area.x0, 1, kGrid);
    fill_rect(img, area.x0 - kTick, y, kTick, 1, kInk);
    const std::string label = tick_label(v, ya.step);
    draw_text(img, area.x0 - kTick - 4 - text_width(label, kFont), y - th / 2 + 1, label, kFont, kInk);
  }
  fill_rect(img, area.x0, area.y0, 1, area.y1 - area.y0 + 1, kInk);  // y axis
  fill_rect(img, area.x0, area.y1, area.x1 - area.x0 + 1, 1, kInk);  // x axis

  if (!plot.title.empty())
    draw_text(img, (plot.width - text_width(plot.title, kFont)) / 2, kPad, plot.title, kFont, kInk);
  if (!plot.x_label.empty())
    draw_text(img, (area.x0 + area.x1 - text_width(plot.x_label, kFont)) / 2, plot.height - kPad - th, plot.x_label,
              kFont, kInk);
  if (!plot.y_label.empty())
    draw_text_up(img, kPad, (area.y0 + area.y1 - text_width(plot.y_label, kFont)) / 2, plot.y_label, kInk);

  // Data, clipped to the plot area widened by a marker's radius, so markers on the axes show whole.
  const Rect clip{area.x0 - kMarker, area.y0 - kMarker, area.x1 + kMarker, area.y1 + kMarker};
  std::vector<std::pair<int, int>> drawn;  // sample points of every line, to place the legend
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const PlotSeries& s = plot.series[k];
    const Rgb c = kPalette[k % kPalette.size()];
    for (std::size_t i = 0; i + 1 < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.y[i + 1])) continue;
      draw_line(img, clip, px(s.x[i]), py(s.y[i]), px(s.x[i + 1]), py(s.y[i + 1]), c);
      for (int t = 0; t <= 16; ++t)
        drawn.emplace_back(px(s.x[i] + (s.x[i + 1] - s.x[i]) * t / 16), py(s.y[i] + (s.y[i + 1] - s.y[i]) * t / 16));
    }
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) {
        draw_marker(img, clip, px(s.x[i]), py(s.y[i]), int(k), c);
        drawn.emplace_back(px(s.x[i]), py(s.y[i]));
      }
  }

  if (plot.series.empty()) return img;
  const int row_h = th + 8, sample_w = 36;
  int label_w = 0;
  for (const PlotSeries& s : plot.series) label_w = std::max(label_w, text_width(s.label, kFont));
  const int box_w = 10 + sample_w + 8 + label_w + 10, box_h = 8 + int(plot.series.size()) * row_h;
  // Corners in order of preference; the first hiding the fewest line points wins.
  const int inset = 10;
  const std::array<std::pair<int, int>, 4> corners = {{{area.x1 - inset - box_w, area.y0 + inset},
                                                       {area.x0 + inset, area.y1 - inset - box_h},
                                                       {area.x1 - inset - box_w, area.y1 - inset - box_h},
                                                       {area.x0 + inset, area.y0 + inset}}};
  std::pair<int, int> best = corners[0];
  std::size_t best_hidden = std::numeric_limits<std::size_t>::max();
  for (auto [bx, by] : corners) {
    const Rect box{bx - 4, by - 4, bx + box_w + 4, by + box_h + 4};
    const auto hidden = std::size_t(std::count_if(drawn.begin(), drawn.end(),
                                                  [&](auto p) { return box.contains(p.first, p.second); }));
    if (hidden < best_hidden) best = {bx, by}, best_hidden = hidden;
  }
  const auto [bx, by] = best;
  fill_rect(img, bx, by, box_w, box_h, kGrid);
  fill_rect(img, bx + 1, by + 1, box_w - 2, box_h - 2, kWhite);
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const Rgb c = kPalette[k % kPalette.size()];
    const int cy = by + 4 + int(k) * row_h + row_h / 2;
    draw_line(img, whole, bx + 10, cy, bx + 10 + sample_w, cy, c);
    draw_marker(img, whole, bx + 10 + sample_w / 2, cy, int(k), c);
    draw_text(img, bx + 10 + sample_w + 8, cy - th / 2 + 1, plot.series[k].label, kFont, kInk);
  }
  return img;
}

}  // namespace dn
