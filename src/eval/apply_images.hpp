#pragma once
// A one-channel denoiser applied to picture files of any size, channel layout and bit depth.
//
// Colour: a model trained on gray images sees each colour channel as a gray image of its
// own (ColourMode::per_channel, the default: noise in every channel is removed), or only the
// luminance Y = 0.299 R + 0.587 G + 0.114 B (ColourMode::luma: the change to Y is added to
// R, G and B alike, which keeps the chroma B - Y and R - Y exactly). Alpha passes through
// unchanged. The output has the input's size, channels and bit depth.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image_codec.hpp"
#include "data/noise.hpp"
#include "eval/baselines.hpp"
#include "nn/layer.hpp"
#include "nn/tiled_inference.hpp"

namespace dn {

enum class ColourMode { per_channel, luma };
ColourMode parse_colour_mode(const std::string& text);  // "per-channel" | "luma"; ArgumentError("colour", ...)
std::string colour_mode_name(ColourMode mode);

// The denoised picture, through predict_tiled (memory: the two pictures and one window per thread).
Picture denoise_picture(Layer& model, const Picture& picture, ColourMode colour, const TileOptions& tiles);

// The same through a classical baseline (eval/baselines.hpp), each plane whole: no tiles, so
// memory is a float copy of the picture's colour planes.
Picture denoise_picture(const Baseline& baseline, const Picture& picture, ColourMode colour);

// What apply runs on each (noisy) picture: one of the two above with its options bound.
using PictureDenoiser = std::function<Picture(const Picture&)>;

// The picture with noise added to every colour channel (alpha kept), rounded to its bit
// depth as a noisy file would be; channel c of it draws from stream (seed, stream + c).
Picture add_picture_noise(const Picture& picture, const NoiseSpec& noise, std::uint64_t seed, std::uint64_t stream);

// noisy and denoised side by side, a 4-pixel white gap between them.
Picture side_by_side(const Picture& left, const Picture& right);

// PSNR (data range 1) and SSIM of the colour channels (alpha ignored), each channel at its own
// bit depth's scale; SSIM is the mean over channels. DataError when sizes or colour channel
// counts differ.
struct PictureQuality {
  double psnr = 0, ssim = 0;
};
PictureQuality picture_quality(const Picture& picture, const Picture& reference);

struct ApplyInput {
  std::filesystem::path path;      // the file read
  std::filesystem::path relative;  // its name under the output folder (and the reference folder)
};

// Files stay as given (named by their file name); a folder gives its .png, .jpg and .jpeg files
// (any case), those of subfolders too when recursive, named relative to the folder, sorted.
// DataError for a path that does not exist.
std::vector<ApplyInput> collect_inputs(const std::vector<std::filesystem::path>& paths, bool recursive);

struct ApplyOptions {
  std::filesystem::path out_dir;
  std::uint64_t max_pixels = kDefaultMaxPixels;
  NoiseSpec noise;  // added before denoising (kind none: nothing added)
  std::uint64_t seed = 0;
  bool compare = false;                  // also write <name>.compare.png: (noisy) input | denoised
  std::filesystem::path reference_dir;   // empty: no reference; else clean originals, same relative names
};

struct ApplyFileResult {
  std::filesystem::path input, output, compare;  // compare empty when not written
  std::string error;                             // empty when denoised and written
  int width = 0, height = 0, channels = 0, bit_depth = 0;
  double seconds = 0;
  std::optional<PictureQuality> input_quality, output_quality;  // against the reference
};

struct ApplyObserver {
  // After each file, in order: files done so far, of `total`.
  std::function<void(std::size_t done, std::size_t total, const ApplyFileResult&)> on_file;
};

// Denoises every input into out_dir/<relative> (same format by extension, written atomically).
// A file that fails (unreadable, damaged, over the pixel limit, an output that would overwrite an
// input, or a name another input already took) gets its error and the rest go on.
std::vector<ApplyFileResult> apply_denoiser(const PictureDenoiser& denoise, const std::vector<ApplyInput>& inputs,
                                            const ApplyOptions& options, const ApplyObserver& observer = {});

// {"files": [{"input", "output", "width", "height", "channels", "bit_depth", "seconds",
//   ["compare"], ["input_psnr", "input_ssim", "psnr", "ssim"] | "error"}], "failed", "seconds",
//  ["mean_input_psnr", "mean_psnr", "mean_input_ssim", "mean_ssim"]}
nlohmann::json apply_summary_json(const std::vector<ApplyFileResult>& results);

}  // namespace dn
