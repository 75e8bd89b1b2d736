#pragma once
// A small line-plot renderer for the pictures the program writes (accuracy
// against noise level, for example), drawn with cairo (antialiased lines, DejaVu
// Sans text): axes with numbered ticks at round values, light grid lines, axis
// labels, a title, and one coloured line with markers per series, named in a
// legend inside the plot area where it hides no line, else in a margin beside it.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/png.hpp"

namespace dn {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;  // equal lengths; a non-finite y leaves a gap in the line
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  // Axis ranges; when empty, the data's range widened to the nearest ticks.
  std::optional<double> x_min, x_max, y_min, y_max;
  int width = 800, height = 520;
};

// An RGB picture of the plot. Series are drawn in the order given, each with
// its own colour and marker shape (so that they stay apart in grey print).
// std::invalid_argument when a series' x and y differ in length or the
// picture is too small for its margins (under 200 x 150).
Image render_line_plot(const LinePlot& plot);
// The same drawing as an SVG document (vector lines and text, for print and the web).
std::string render_line_plot_svg(const LinePlot& plot);
// Writes the PNG at `png` and the SVG beside it (the same name, .svg), each atomically.
void write_line_plot(const std::filesystem::path& png, const LinePlot& plot);

}  // namespace dn
