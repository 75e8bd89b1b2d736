#pragma once
// Models written as ONNX (opset 17, IR version 8) for runtimes other than this one:
// ONNX Runtime, OpenCV's DNN module, browsers, phones.
//
// The file keeps this program's tensor layout at its edges and runs NCHW inside:
//   input   (batch, height, width)  grey levels in [0, 1], as the model's first layer takes them
//   output  the model's own output: (batch, height', width') for a denoiser,
//           (batch, 10) probabilities for a classifier
// Convolutions and pooling run in NCHW, ONNX's only image layout; a Transpose moves a
// tensor into NCHW before the first of them and back to channels-last before anything
// that reads the Keras order (Reshape, Flatten, Dense) and before the output. Softmax over
// channels is then Softmax on axis 1.
//
// Skip connections (nn/layers/merge.hpp) become merge nodes: Residual is Add or Sub of its
// input and its inner layer's output, SkipConcatenate a Concat of the two on the channel
// axis (1 in NCHW). An image skip is taken in NCHW, the inner branch's output brought to it.
//
// TensorFlow's "same" padding is written as explicit pads, never auto_pad (runtimes have
// read ConvTranspose's SAME_UPPER / SAME_LOWER differently). For a stride-2 3x3
// transposed convolution that is pads 0 before and 1 after: asymmetric, which OpenCV
// 4.6 refuses. PadStyle::slice writes the same model for such runtimes: asymmetric pads
// become a Slice after a ConvTranspose padded with 0, and a Pad before a Conv.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/layer.hpp"

namespace dn {

inline constexpr int kOnnxOpset = 17;
inline constexpr int kOnnxIrVersion = 8;

enum class PadStyle { explicit_pads, slice };
PadStyle parse_pad_style(const std::string& name);  // "explicit" | "slice"; ArgumentError("pads") otherwise
std::string pad_style_name(PadStyle style);

struct OnnxOptions {
  PadStyle pads = PadStyle::explicit_pads;
};

// What the file says about the model: its name, what it does, how it was trained.
struct OnnxDescription {
  std::string task;        // "denoise" or "classify"
  nlohmann::json config;   // the run's config.json (written into the metadata)
};

// The model (built, with its weights) as a serialised ONNX ModelProto. The batch axis is
// always free; height and width are free when the model runs at any size (a fully
// convolutional model whose pads do not depend on the size), else fixed at the model's
// build shape. DataError naming the layer for a layer or argument ONNX export does not cover.
std::string onnx_model_bytes(Layer& model, const OnnxDescription& description, const OnnxOptions& options);

// Reads the run folder (either task), writes its model to out all or nothing. DataError
// for a missing or damaged folder, a model that cannot be exported, or an unwritable out.
struct OnnxExportResult {
  std::uintmax_t bytes = 0;
  bool free_size = false;  // height and width free
};
OnnxExportResult export_run_onnx(const std::filesystem::path& run_dir, const std::filesystem::path& out,
                                 const OnnxOptions& options);

}  // namespace dn
