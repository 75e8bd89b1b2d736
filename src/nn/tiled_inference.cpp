#include "nn/tiled_inference.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <vector>

#include <fmt/core.h>

#include "core/error.hpp"
#include "nn/inference.hpp"
#include "nn/model_config.hpp"

namespace dn {

static int round_up(int v, int m) { return (v + m - 1) / m * m; }

// Images are padded to at least this side: some loaded models fail on inputs of a few pixels.
static constexpr int kMinSide = 32;
static int padded_side(int v, int m) { return round_up(std::max(v, kMinSide), m); }

// Output [1, H, W] or [1, H, W, 1]: its height and width, or -1 when it has another shape.
static bool one_channel_output(const Tensor& y, int& height, int& width) {
  if (y.rank() == 3 || (y.rank() == 4 && y.dim(3) == 1)) {
    height = y.dim(1), width = y.dim(2);
    return true;
  }
  return false;
}

int model_size_multiple(Layer& model) {
  InferencePlan plan(model);
  std::string first_error;
  for (int m = 1; m <= 32; m *= 2) {
    const int side = 33 * m;  // an odd multiple: a model that needs 2m comes out the wrong size
    Tensor x({1, side, side}, 0.5f), y;
    try {
      plan.run(x, y);
    } catch (const std::exception& e) {
      // A skip connection refuses a size its pooling does not divide (a U-Net's
      // concatenation): the next multiple may fit.
      if (first_error.empty()) first_error = e.what();
      continue;
    }
    int h = 0, w = 0;
    if (!one_channel_output(y, h, w))
      throw DataError("the model does not map a one-channel image to a one-channel image (output " +
                      shape_str(y.shape()) + ")");
    if (h == side && w == side) return m;
  }
  if (!first_error.empty())
    throw DataError(fmt::format("the model does not take one-channel images of any size ({})", first_error));
  throw DataError("the model does not keep the image's size for any side that is a multiple of 1 to 32");
}

namespace {

// The reach so far in input pixels, and the size of the current layer's pixel in input pixels.
struct Reach {
  double radius = 0, jump = 1;
};

// A Keras pair such as "kernel_size": [3, 3], as its larger side (1 when absent).
int pair_max(const nlohmann::json& config, const char* key) {
  if (!config.contains(key)) return 1;
  const nlohmann::json& v = config.at(key);
  if (v.is_number_integer()) return v.get<int>();
  int m = 1;
  for (const auto& d : v)
    if (d.is_number_integer()) m = std::max(m, d.get<int>());
  return m;
}

void walk_layer(const nlohmann::json& layer, Reach& r);

// Every layer nested in a config, in order (Sequential's "layers", a container's branches).
void walk_nested(const nlohmann::json& config, Reach& r) {
  for (const auto& [key, value] : config.items()) {
    if (value.is_object() && value.contains("class_name")) walk_layer(value, r);
    if (value.is_array())
      for (const auto& item : value)
        if (item.is_object() && item.contains("class_name")) walk_layer(item, r);
  }
}

void walk_layer(const nlohmann::json& layer, Reach& r) {
  if (!layer.contains("config") || !layer.at("config").is_object()) return;
  const nlohmann::json& config = layer.at("config");
  const std::string cls = layer.at("class_name").is_string() ? layer.at("class_name").get<std::string>() : "";
  const bool pool = config.contains("pool_size");
  const int k = pool ? pair_max(config, "pool_size") : pair_max(config, "kernel_size");
  const int s = pair_max(config, "strides"), d = pair_max(config, "dilation_rate");
  const bool same = config.value("padding", "valid") == "same";
  const int reach = (k - 1) * d, side = same ? (reach + 1) / 2 : reach;
  if (cls.find("Transpose") != std::string::npos) {
    r.radius += side * r.jump;  // counted at the coarser input grid: an upper bound
    r.jump /= s;
  } else if (cls.find("UpSampling") != std::string::npos) {
    const int size = pair_max(config, "size");
    r.jump /= size;
    r.radius += (size - 1) * r.jump;
  } else if (config.contains("kernel_size") || pool) {
    r.radius += side * r.jump;
    r.jump *= s;
  }
  walk_nested(config, r);
}

struct Window {
  int y0, x0;              // origin in the padded image
  int core_y0, core_y1;    // rows kept, [core_y0, core_y1)
  int core_x0, core_x1;    // columns kept
};

// The cores [c, c + tile) along one axis of padded length `padded`, each with its window start.
struct Span {
  int start, core0, core1;
};
std::vector<Span> spans(int padded, int window, int tile, int overlap) {
  std::vector<Span> out;
  for (int c = 0; c < padded; c += tile)
    out.push_back({std::clamp(c - overlap, 0, padded - window), c, std::min(c + tile, padded)});
  return out;
}

}  // namespace

int receptive_radius(Layer& model) {
  Reach r;
  walk_layer(model_to_json(model), r);
  return static_cast<int>(std::ceil(r.radius));
}

void predict_tiled(Layer& model, int height, int width, const TileOptions& options, const RowReader& read,
                   const RowWriter& write) {
  if (options.tile < 1) throw ArgumentError("tile", fmt::format("must be >= 1 (got {})", options.tile));
  if (options.overlap && *options.overlap < 0)
    throw ArgumentError("overlap", fmt::format("must be >= 0 (got {})", *options.overlap));
  if (height < 1 || width < 1) throw std::invalid_argument("predict_tiled: empty image");
  const int m = model_size_multiple(model);
  const int tile = round_up(options.tile, m), overlap = round_up(options.overlap.value_or(receptive_radius(model)), m);
  const int padded_h = padded_side(height, m), padded_w = padded_side(width, m);
  const int window_h = std::min(padded_h, tile + 2 * overlap), window_w = std::min(padded_w, tile + 2 * overlap);

  std::vector<Window> windows;
  for (const Span& r : spans(padded_h, window_h, tile, overlap))
    for (const Span& c : spans(padded_w, window_w, tile, overlap))
      if (r.core0 < height && c.core0 < width)  // cores wholly in the padding are not needed
        windows.push_back({r.start, c.start, r.core0, std::min(r.core1, height), c.core0, std::min(c.core1, width)});

  // One window: rows past the image repeat its last row, columns its last column.
  const auto run_window = [&](InferencePlan& plan, const Window& win, Tensor& x, Tensor& y) {
    x.resize({1, window_h, window_w});
    for (int r = 0; r < window_h; ++r) {
      float* row = x.data() + std::size_t(r) * std::size_t(window_w);
      const int y = std::min(win.y0 + r, height - 1);
      const int inside = std::min(window_w, width - win.x0);
      if (inside > 0) {
        read(y, win.x0, inside, row);
        std::fill(row + inside, row + window_w, row[inside - 1]);
      } else {  // a window that starts in the right padding
        read(y, width - 1, 1, row);
        std::fill(row + 1, row + window_w, row[0]);
      }
    }
    plan.run(x, y);
    int out_h = 0, out_w = 0;
    if (!one_channel_output(y, out_h, out_w) || out_h != window_h || out_w != window_w)
      throw std::logic_error("predict_tiled: the model changed a window's size");
    for (int r = win.core_y0; r < win.core_y1; ++r)
      write(r, win.core_x0, win.core_x1 - win.core_x0,
            y.data() + std::size_t(r - win.y0) * std::size_t(window_w) + std::size_t(win.core_x0 - win.x0));
  };

  const int threads =
      omp_in_parallel() ? 1 : static_cast<int>(std::min<std::size_t>(std::size_t(omp_get_max_threads()), windows.size()));
  if (threads <= 1) {
    InferencePlan plan(model);
    Tensor x, y;
    for (const Window& win : windows) run_window(plan, win, x, y);
    return;
  }
  std::vector<std::unique_ptr<Layer>> copies;
  for (int t = 1; t < threads; ++t) copies.push_back(model.clone());
  std::exception_ptr failure;
#pragma omp parallel num_threads(threads)
  {
    omp_set_num_threads(1);  // the kernels' own parallel loops run on this thread alone
    const int t = omp_get_thread_num();
    std::unique_ptr<InferencePlan> plan;
    Tensor x, y;
#pragma omp for schedule(dynamic)
    for (std::size_t i = 0; i < windows.size(); ++i) {
      try {
        if (!plan) plan = std::make_unique<InferencePlan>(t == 0 ? model : *copies[std::size_t(t - 1)]);
        run_window(*plan, windows[i], x, y);
      } catch (...) {
#pragma omp critical(dn_predict_tiled_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

Tensor predict_image_tiled(Layer& model, const Tensor& image, const TileOptions& options) {
  if (image.rank() != 2) throw std::invalid_argument("predict_image_tiled: expected [H, W], got " + shape_str(image.shape()));
  const int h = image.dim(0), w = image.dim(1);
  Tensor out({h, w});
  predict_tiled(
      model, h, w, options,
      [&](int y, int x0, int count, float* dst) { std::copy_n(image.data() + std::size_t(y) * std::size_t(w) + std::size_t(x0), count, dst); },
      [&](int y, int x0, int count, const float* src) { std::copy_n(src, count, out.data() + std::size_t(y) * std::size_t(w) + std::size_t(x0)); });
  return out;
}

Tensor predict_image_whole(Layer& model, const Tensor& image) {
  if (image.rank() != 2) throw std::invalid_argument("predict_image_whole: expected [H, W], got " + shape_str(image.shape()));
  const int h = image.dim(0), w = image.dim(1);
  const int m = model_size_multiple(model);
  const int ph = padded_side(h, m), pw = padded_side(w, m);
  Tensor x({1, ph, pw});
  for (int r = 0; r < ph; ++r)
    for (int c = 0; c < pw; ++c)
      x.data()[std::size_t(r) * std::size_t(pw) + std::size_t(c)] =
          image.data()[std::size_t(std::min(r, h - 1)) * std::size_t(w) + std::size_t(std::min(c, w - 1))];
  Tensor y;
  InferencePlan plan(model);
  plan.run(x, y);
  Tensor out({h, w});
  for (int r = 0; r < h; ++r)
    std::copy_n(y.data() + std::size_t(r) * std::size_t(pw), w, out.data() + std::size_t(r) * std::size_t(w));
  return out;
}

}  // namespace dn
