#include "eval/apply_images.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "eval/image_metrics.hpp"

namespace dn {

namespace fs = std::filesystem;

ColourMode parse_colour_mode(const std::string& text) {
  if (text == "per-channel") return ColourMode::per_channel;
  if (text == "luma") return ColourMode::luma;
  throw ArgumentError("colour", "must be per-channel or luma (got '" + text + "')");
}

std::string colour_mode_name(ColourMode mode) { return mode == ColourMode::luma ? "luma" : "per-channel"; }

static float luma(const Picture& p, std::size_t pixel) {
  const std::size_t i = pixel * std::size_t(p.channels);
  return 0.299f * p.get(i) + 0.587f * p.get(i + 1) + 0.114f * p.get(i + 2);
}

// Channel c of the picture as [1, H, W] in [0, 1].
static Tensor channel_plane(const Picture& p, int c) {
  Tensor t({1, p.height, p.width});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = p.get(i * std::size_t(p.channels) + std::size_t(c));
  return t;
}

Picture denoise_picture(Layer& model, const Picture& in, ColourMode colour, const TileOptions& tiles) {
  Picture out = in;  // alpha (and anything not written below) as it was
  const std::size_t w = std::size_t(in.width), c_all = std::size_t(in.channels);
  if (colour == ColourMode::luma && in.colour_channels() == 3) {
    predict_tiled(
        model, in.height, in.width, tiles,
        [&](int y, int x0, int count, float* dst) {
          for (int k = 0; k < count; ++k) dst[k] = luma(in, std::size_t(y) * w + std::size_t(x0 + k));
        },
        [&](int y, int x0, int count, const float* values) {
          for (int k = 0; k < count; ++k) {
            const std::size_t pixel = std::size_t(y) * w + std::size_t(x0 + k);
            const float delta = values[k] - luma(in, pixel);
            for (std::size_t c = 0; c < 3; ++c) out.set(pixel * c_all + c, in.get(pixel * c_all + c) + delta);
          }
        });
    return out;
  }
  for (std::size_t c = 0; c < std::size_t(in.colour_channels()); ++c)
    predict_tiled(
        model, in.height, in.width, tiles,
        [&](int y, int x0, int count, float* dst) {
          const std::size_t first = (std::size_t(y) * w + std::size_t(x0)) * c_all + c;
          for (int k = 0; k < count; ++k) dst[k] = in.get(first + std::size_t(k) * c_all);
        },
        [&](int y, int x0, int count, const float* values) {
          const std::size_t first = (std::size_t(y) * w + std::size_t(x0)) * c_all + c;
          for (int k = 0; k < count; ++k) out.set(first + std::size_t(k) * c_all, values[k]);
        });
  return out;
}


Picture denoise_picture(const Baseline& baseline, const Picture& in, ColourMode colour) {
  Picture out = in;
  const std::size_t pixels = std::size_t(in.width) * std::size_t(in.height), c_all = std::size_t(in.channels);
  if (colour == ColourMode::luma && in.colour_channels() == 3) {
    Tensor y({1, in.height, in.width}), denoised;
    for (std::size_t p = 0; p < pixels; ++p) y[p] = luma(in, p);
    apply_baseline(baseline, y, denoised);
    for (std::size_t p = 0; p < pixels; ++p)
      for (std::size_t c = 0; c < 3; ++c) out.set(p * c_all + c, in.get(p * c_all + c) + denoised[p] - y[p]);
    return out;
  }
  const std::size_t planes = std::size_t(in.colour_channels());
  Tensor stacked({int(planes), in.height, in.width}), denoised;  // the planes in parallel
  for (std::size_t c = 0; c < planes; ++c)
    for (std::size_t p = 0; p < pixels; ++p) stacked[c * pixels + p] = in.get(p * c_all + c);
  apply_baseline(baseline, stacked, denoised);
  for (std::size_t c = 0; c < planes; ++c)
    for (std::size_t p = 0; p < pixels; ++p) out.set(p * c_all + c, denoised[c * pixels + p]);
  return out;
}

Picture add_picture_noise(const Picture& picture, const NoiseSpec& noise, std::uint64_t seed, std::uint64_t stream) {
  Picture out = picture;
  for (int c = 0; c < picture.colour_channels(); ++c) {
    Tensor plane = channel_plane(picture, c);
    add_noise(noise, plane, plane, seed, stream + std::uint64_t(c));
    for (std::size_t i = 0; i < plane.size(); ++i) out.set(i * std::size_t(out.channels) + std::size_t(c), plane[i]);
  }
  return out;
}

Picture side_by_side(const Picture& left, const Picture& right) {
  constexpr int kGap = 4;
  if (left.height != right.height || left.channels != right.channels || left.bit_depth != right.bit_depth)
    throw std::invalid_argument("side_by_side: pictures of different layouts");
  Picture out(left.width + kGap + right.width, left.height, left.channels, left.bit_depth);
  const std::size_t c = std::size_t(left.channels);
  const auto max_level = std::uint16_t(left.max_value());
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const std::size_t o = (std::size_t(y) * std::size_t(out.width) + std::size_t(x)) * c;
      for (std::size_t k = 0; k < c; ++k) {
        std::uint16_t v = max_level;
        if (x < left.width)
          v = left.level((std::size_t(y) * std::size_t(left.width) + std::size_t(x)) * c + k);
        else if (x >= left.width + kGap)
          v = right.level((std::size_t(y) * std::size_t(right.width) + std::size_t(x - left.width - kGap)) * c + k);
        out.set_level(o + k, v);
      }
    }
  return out;
}

PictureQuality picture_quality(const Picture& p, const Picture& ref) {
  if (p.width != ref.width || p.height != ref.height)
    throw DataError(fmt::format("the reference is {}x{}, the picture {}x{}", ref.width, ref.height, p.width, p.height));
  if (p.colour_channels() != ref.colour_channels())
    throw DataError(fmt::format("the reference has {} colour channels, the picture {}", ref.colour_channels(),
                                p.colour_channels()));
  double squared = 0, ssim_sum = 0;
  for (int c = 0; c < p.colour_channels(); ++c) {
    const Tensor a = channel_plane(p, c), b = channel_plane(ref, c);
    for (std::size_t i = 0; i < a.size(); ++i) squared += double(a[i] - b[i]) * double(a[i] - b[i]);
    ssim_sum += ssim(a.data(), b.data(), p.height, p.width);
  }
  const double samples = double(p.width) * double(p.height) * double(p.colour_channels());
  return {psnr_from_mse(squared / samples), ssim_sum / p.colour_channels()};
}

static bool is_picture_name(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<ApplyInput> collect_inputs(const std::vector<fs::path>& paths, bool recursive) {
  std::vector<ApplyInput> inputs;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw DataError(path.string() + ": not found");
    if (!fs::is_directory(path, ec)) {
      inputs.push_back({path, path.filename()});
      continue;
    }
    std::vector<ApplyInput> found;
    const auto add = [&](const fs::directory_entry& e) {
      if (e.is_regular_file() && is_picture_name(e.path())) found.push_back({e.path(), fs::relative(e.path(), path)});
    };
    if (recursive)
      for (const auto& e : fs::recursive_directory_iterator(path)) add(e);
    else
      for (const auto& e : fs::directory_iterator(path)) add(e);
    std::sort(found.begin(), found.end(), [](const ApplyInput& a, const ApplyInput& b) { return a.relative < b.relative; });
    inputs.insert(inputs.end(), found.begin(), found.end());
  }
  return inputs;
}

// The clean original of `relative`: the same name, or the same stem as PNG or JPEG.
static fs::path find_reference(const fs::path& dir, const fs::path& relative) {
  std::error_code ec;
  if (fs::is_regular_file(dir / relative, ec)) return dir / relative;
  for (const char* ext : {".png", ".PNG", ".jpg", ".jpeg", ".JPG", ".JPEG"}) {
    fs::path candidate = dir / relative;
    candidate.replace_extension(ext);
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  throw DataError(fmt::format("{}: no reference picture for it in {}", relative.string(), dir.string()));
}

static fs::path canonical_or_absolute(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? fs::absolute(p) : c;
}

std::vector<ApplyFileResult> apply_denoiser(const PictureDenoiser& denoise, const std::vector<ApplyInput>& inputs,
                                            const ApplyOptions& options, const ApplyObserver& observer) {
  std::set<fs::path> input_paths, taken;
  for (const ApplyInput& in : inputs) input_paths.insert(canonical_or_absolute(in.path));
  const auto claim = [&](const fs::path& out, const fs::path& input) {
    const fs::path key = canonical_or_absolute(out);
    if (input_paths.count(key)) throw DataError(fmt::format("{}: the output {} would overwrite an input", input.string(), out.string()));
    if (!taken.insert(key).second)
      throw DataError(fmt::format("{}: another input already wrote {}", input.string(), out.string()));
  };

  create_folder(options.out_dir);  // once, before any picture: not the same failure per file
  std::vector<ApplyFileResult> results;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    ApplyFileResult r;
    r.input = inputs[i].path;
    r.output = options.out_dir / inputs[i].relative;
    try {
      claim(r.output, r.input);
      fs::path compare_path;
      if (options.compare) {
        compare_path = options.out_dir / inputs[i].relative;
        compare_path.replace_extension(".compare.png");
        claim(compare_path, r.input);
      }
      Picture picture = read_picture(r.input, options.max_pixels);
      r.width = picture.width, r.height = picture.height, r.channels = picture.channels, r.bit_depth = picture.bit_depth;
      if (options.noise.kind != NoiseSpec::Kind::none)
        picture = add_picture_noise(picture, options.noise, options.seed, std::uint64_t(i) * 4);
      const Picture denoised = denoise(picture);
      if (!options.reference_dir.empty()) {
        const fs::path ref_path = find_reference(options.reference_dir, inputs[i].relative);
        const Picture reference = read_picture(ref_path, options.max_pixels);
        try {
          r.input_quality = picture_quality(picture, reference);
          r.output_quality = picture_quality(denoised, reference);
        } catch (const DataError& e) {
          throw DataError(fmt::format("{}: reference {}: {}", r.input.string(), ref_path.string(), e.what()));
        }
      }
      write_picture_atomic(r.output, denoised);
      if (options.compare) {
        write_picture_atomic(compare_path, side_by_side(picture, denoised));
        r.compare = compare_path;
      }
    } catch (const DataError& e) {
      r.error = e.what();
    } catch (const std::bad_alloc&) {
      r.error = r.input.string() + ": out of memory";
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    results.push_back(std::move(r));
    if (observer.on_file) observer.on_file(i + 1, inputs.size(), results.back());
  }
  return results;
}

nlohmann::json apply_summary_json(const std::vector<ApplyFileResult>& results) {
  nlohmann::json files = nlohmann::json::array();
  std::size_t failed = 0, measured = 0;
  double seconds = 0, in_psnr = 0, out_psnr = 0, in_ssim = 0, out_ssim = 0;
  for (const ApplyFileResult& r : results) {
    nlohmann::json f = {{"input", r.input.string()}, {"output", r.output.string()}, {"seconds", r.seconds}};
    seconds += r.seconds;
    if (!r.error.empty()) {
      ++failed;
      f["error"] = r.error;
      files.push_back(f);
      continue;
    }
    f["width"] = r.width, f["height"] = r.height, f["channels"] = r.channels, f["bit_depth"] = r.bit_depth;
    if (!r.compare.empty()) f["compare"] = r.compare.string();
    if (r.output_quality) {
      ++measured;
      f["input_psnr"] = r.input_quality->psnr, f["input_ssim"] = r.input_quality->ssim;
      f["psnr"] = r.output_quality->psnr, f["ssim"] = r.output_quality->ssim;
      in_psnr += r.input_quality->psnr, out_psnr += r.output_quality->psnr;
      in_ssim += r.input_quality->ssim, out_ssim += r.output_quality->ssim;
    }
    files.push_back(f);
  }
  nlohmann::json j = {{"files", files}, {"failed", failed}, {"seconds", seconds}};
  if (measured) {
    const double n = double(measured);
    j["mean_input_psnr"] = in_psnr / n, j["mean_psnr"] = out_psnr / n;
    j["mean_input_ssim"] = in_ssim / n, j["mean_ssim"] = out_ssim / n;
  }
  return j;
}

}  // namespace dn
