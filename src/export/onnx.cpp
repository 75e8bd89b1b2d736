#include "export/onnx.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include <fmt/core.h>
#include <onnx/onnx_pb.h>

#include "core/error.hpp"
#include "core/json_integer.hpp"
#include "core/file_io.hpp"
#include "kernels/conv.hpp"
#include "nn/layers/merge.hpp"
#include "nn/model_config.hpp"
#include "nn/sequential.hpp"
#include "run/run_folder.hpp"

namespace dn {

namespace fs = std::filesystem;

PadStyle parse_pad_style(const std::string& name) {
  if (name == "explicit") return PadStyle::explicit_pads;
  if (name == "slice") return PadStyle::slice;
  throw ArgumentError("pads", fmt::format("must be explicit or slice (got '{}')", name));
}

std::string pad_style_name(PadStyle style) { return style == PadStyle::slice ? "slice" : "explicit"; }

namespace {

// Pads of one spatial axis as TensorFlow pads it; for a transposed convolution also the
// output_padding: rows of its output beyond the last one a tap reaches.
struct AxisPads {
  int begin = 0, end = 0, output_padding = 0;
  bool operator==(const AxisPads&) const = default;
};

struct SpatialPads {
  AxisPads h, w;
  bool operator==(const SpatialPads&) const = default;
  bool symmetric() const { return h.begin == h.end && w.begin == w.end; }
};

// A free axis's pads are worked out at these sizes; they cover every remainder of a
// stride up to 8, which is what "same" padding depends on.
constexpr int kProbeSize = 32;
constexpr int kProbeSizes = 8;

int int_at(const nlohmann::json& config, const char* key, int index) {
  return json_integer<int>(config.at(key).at(index), key);
}

// Conv2D and MaxPooling2D: y row o reads input rows o*s - begin ... o*s - begin + k - 1.
AxisPads window_pads(int size, int k, int s, Padding padding) {
  const ConvGeometry g = conv_geometry(1, size, 1, 1, 1, k, 1, s, 1, padding);
  return {g.pad_top, std::max((g.OH - 1) * s + k - size - g.pad_top, 0), 0};
}

// Conv2DTranspose: ONNX writes input row i to rows i*s + kh - begin; unpadded, the
// output has (size - 1)*s + k rows, Keras's has conv_transpose_geometry's.
AxisPads transposed_pads(int size, int k, int s, Padding padding) {
  const ConvGeometry g = conv_transpose_geometry(1, size, 1, 1, 1, k, 1, s, 1, padding);
  const int end = (size - 1) * s + k - g.H - g.pad_top;
  return end >= 0 ? AxisPads{g.pad_top, end, 0} : AxisPads{g.pad_top, 0, -end};
}

bool has_spatial_pads(const Layer& layer) {
  return layer.type() == "Conv2D" || layer.type() == "Conv2DTranspose" || layer.type() == "MaxPooling2D";
}

// The pads of a Conv2D, Conv2DTranspose or MaxPooling2D for an input of h x w.
SpatialPads spatial_pads(const Layer& layer, int h, int w) {
  const nlohmann::json c = layer.config();
  const Padding padding = parse_padding(c.at("padding").get<std::string>());
  const bool pool = layer.type() == "MaxPooling2D";
  const char* window = pool ? "pool_size" : "kernel_size";
  const auto pads = layer.type() == "Conv2DTranspose" ? transposed_pads : window_pads;
  return {pads(h, int_at(c, window, 0), int_at(c, "strides", 0), padding),
          pads(w, int_at(c, window, 1), int_at(c, "strides", 1), padding)};
}

// The pads at the layer's built input size; a free axis takes the probe size, which
// gives every size's pads where runs_at_any_size has checked that they agree.
SpatialPads built_pads(const Layer& layer) {
  const Shape& in = layer.input_shape();  // (H, W, C)
  return spatial_pads(layer, in[0] == kNone ? kProbeSize : in[0], in[1] == kNone ? kProbeSize : in[1]);
}

// The layers that compute (no containers), in the order they run.
void collect_leaves(Layer& layer, std::vector<Layer*>& leaves) {
  const std::vector<Layer*> children = layer.children();
  if (children.empty() && layer.type() != "Sequential") leaves.push_back(&layer);
  for (Layer* child : children) collect_leaves(*child, leaves);
}

std::vector<Layer*> leaves_of(Layer& model) {
  std::vector<Layer*> leaves;
  collect_leaves(model, leaves);
  return leaves;
}

long free_axes(const Shape& shape) { return std::count(shape.begin(), shape.end(), kNone); }

// A copy of the model built with free height and width, holding its weights, when it
// runs at any size with pads that do not depend on the size; null otherwise (a
// Reshape or Dense fixes the size, or a strided "same" layer pads by the size).
std::unique_ptr<Sequential> at_any_size(Layer& model) {
  nlohmann::json j = model_to_json(model);
  nlohmann::json& shape = j["build_input_shape"];
  if (shape.size() < 3) return nullptr;
  shape[1] = nullptr;
  shape[2] = nullptr;
  std::unique_ptr<Sequential> free;
  try {
    free = model_from_json(j, 0);
  } catch (const std::runtime_error&) {  // DataError or UsageError: the model needs its sizes
    return nullptr;
  }
  for (Layer* leaf : leaves_of(*free)) {
    if (free_axes(leaf->output_shape()) < free_axes(leaf->input_shape())) return nullptr;
    if (!has_spatial_pads(*leaf)) continue;
    const SpatialPads first = spatial_pads(*leaf, kProbeSize, kProbeSize);
    for (int n = kProbeSize + 1; n < kProbeSize + kProbeSizes; ++n)
      if (!(spatial_pads(*leaf, n, n) == first)) return nullptr;
  }
  copy_weights(model, *free);
  return free;
}

void add_ints(onnx::NodeProto& node, const char* name, const std::vector<std::int64_t>& values) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (std::int64_t v : values) a->add_ints(v);
}

void add_int(onnx::NodeProto& node, const char* name, std::int64_t value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void set_shape(onnx::ValueInfoProto& info, const std::string& name, const Shape& sample,
               const std::vector<std::string>& free_names) {
  info.set_name(name);
  onnx::TypeProto_Tensor* t = info.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* s = t->mutable_shape();
  s->add_dim()->set_dim_param("batch");
  for (std::size_t i = 0; i < sample.size(); ++i) {
    onnx::TensorShapeProto_Dimension* d = s->add_dim();
    if (sample[i] != kNone)
      d->set_dim_value(sample[i]);
    else if (i < free_names.size())
      d->set_dim_param(free_names[i]);  // left unnamed where no name is given: a size ONNX works out
  }
}

// Writes the graph layer by layer, tracking the current tensor, its rank (batch
// included) and whether a rank-4 tensor is in NCHW (inside convolutional parts) or in
// the Keras order NHWC. Containers are walked in place: a Sequential's layers one after
// another, a skip connection's inner layer as a branch that a merge node closes.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto& graph, PadStyle pads, std::string input, int rank)
      : graph_(graph), pads_(pads), current_(std::move(input)), rank_(rank) {}

  void layer(Layer& layer) {
    const std::string& type = layer.type();
    if (type == "Sequential")
      for (Layer* child : layer.children()) this->layer(*child);
    else if (type == "Residual")
      residual(layer);
    else if (type == "SkipConcatenate")
      skip_concatenate(layer);
    else if (type == "Conv2D")
      conv(layer);
    else if (type == "Conv2DTranspose")
      conv_transpose(layer);
    else if (type == "MaxPooling2D")
      max_pool(layer);
    else if (type == "Dense")
      dense(layer);
    else if (type == "Flatten" || type == "Reshape")
      reshape(layer);
    else if (type == "Activation")
      activation(layer, layer.config().at("activation").get<std::string>());
    else if (type != "Dropout")  // Dropout passes its input through in inference
      throw DataError(fmt::format("layer '{}': {} has no ONNX export", layer.name(), type));
  }

  // Back to the Keras order, the last tensor renamed to the graph's output.
  void finish(const std::string& output) {
    to_channels_last("output");
    if (graph_.node_size() == 0) node("Identity", "output", {current_});
    graph_.mutable_node(graph_.node_size() - 1)->set_output(0, output);
  }

 private:
  onnx::NodeProto& node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs) {
    onnx::NodeProto* n = graph_.add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(name);
    current_ = name;
    return *n;
  }

  // Initializer from a float tensor, its values reordered: dst[i] = src[order(i)].
  template <class Order>
  std::string floats(const std::string& name, const std::vector<std::int64_t>& dims, const Tensor& src, Order order) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->add_dims(d);
    std::vector<float> values(src.size());
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = src[order(i)];
    t->set_raw_data(values.data(), values.size() * sizeof(float));  // little-endian, as ONNX stores raw data
    return name;
  }

  std::string ints(const std::string& name, const std::vector<std::int64_t>& values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(values.size()));
    for (std::int64_t v : values) t->add_int64_data(v);
    return name;
  }

  std::string bias(const Layer& layer, const Param& b) {
    return floats(layer.name() + "/bias", {static_cast<std::int64_t>(b.value.size())}, b.value,
                  [](std::size_t i) { return i; });
  }

  void require_image(const Layer& layer) const {
    if (rank_ != 4)
      throw DataError(fmt::format("layer '{}': {} needs an image input (batch, height, width, channels), got rank {}",
                                  layer.name(), layer.type(), rank_));
  }

  void to_nchw(const Layer& layer) { to_nchw(layer, layer.name()); }

  // at: the node's name prefix, where one layer may transpose twice (a merge's two branches).
  void to_nchw(const Layer& layer, const std::string& at) {
    require_image(layer);
    if (nchw_) return;
    add_ints(node("Transpose", at + "/to_nchw", {current_}), "perm", {0, 3, 1, 2});
    nchw_ = true;
  }

  void to_channels_last(const std::string& name) {
    if (rank_ != 4 || !nchw_) return;
    add_ints(node("Transpose", name + "/to_nhwc", {current_}), "perm", {0, 2, 3, 1});
    nchw_ = false;
  }

  void activation(const Layer& layer, const std::string& name) {
    if (name == "linear") return;
    const std::string at = layer.name() + "/";
    if (name == "relu")
      node("Relu", at + "Relu", {current_});
    else if (name == "sigmoid")
      node("Sigmoid", at + "Sigmoid", {current_});
    else if (name == "tanh")
      node("Tanh", at + "Tanh", {current_});
    else if (name == "softmax")  // Keras: the last axis, which is the channel axis 1 in NCHW
      add_int(node("Softmax", at + "Softmax", {current_}), "axis", rank_ == 4 && nchw_ ? 1 : -1);
    else
      throw DataError(fmt::format("layer '{}': activation {} has no ONNX export", layer.name(), name));
  }

  // A zero (or, for max pooling, lowest-float) border for runtimes that refuse
  // asymmetric pads; the operator after it pads nothing.
  void pad(const Layer& layer, const SpatialPads& p, float value) {
    const std::string at = layer.name() + "/";
    const std::string amounts = ints(at + "pads", {0, 0, p.h.begin, p.w.begin, 0, 0, p.h.end, p.w.end});
    onnx::TensorProto* v = graph_.add_initializer();
    v->set_name(at + "pad_value");
    v->set_data_type(onnx::TensorProto::FLOAT);
    v->add_float_data(value);
    node("Pad", at + "Pad", {current_, amounts, at + "pad_value"});
  }

  static std::vector<std::int64_t> onnx_pads(const SpatialPads& p) {
    return {p.h.begin, p.w.begin, p.h.end, p.w.end};
  }

  bool padded_separately(const SpatialPads& p) const { return pads_ == PadStyle::slice && !p.symmetric(); }

  // Keras kernel (kh, kw, in, out) -> ONNX W (out, in, kh, kw).
  void conv(const Layer& layer) {
    to_nchw(layer);
    const nlohmann::json c = layer.config();
    const std::vector<Param*> params = const_cast<Layer&>(layer).params();
    const Tensor& k = params[0]->value;
    const int KH = k.shape()[0], KW = k.shape()[1], C = k.shape()[2], O = k.shape()[3];
    const std::string w = floats(layer.name() + "/kernel", {O, C, KH, KW}, k, [&](std::size_t i) {
      const std::size_t x = i % KW, y = i / KW % KH, ci = i / (KW * KH) % C, o = i / (KW * KH * C);
      return ((y * KW + x) * C + ci) * O + o;
    });
    const std::string b = bias(layer, *params[1]);
    SpatialPads p = built_pads(layer);
    if (padded_separately(p)) {
      pad(layer, p, 0.0f);
      p = {};
    }
    onnx::NodeProto& n = node("Conv", layer.name() + "/Conv", {current_, w, b});
    add_ints(n, "kernel_shape", {KH, KW});
    add_ints(n, "strides", {int_at(c, "strides", 0), int_at(c, "strides", 1)});
    add_ints(n, "pads", onnx_pads(p));
    activation(layer, c.at("activation").get<std::string>());
  }

  // Keras kernel (kh, kw, out, in) -> ONNX W (in, out, kh, kw).
  void conv_transpose(const Layer& layer) {
    to_nchw(layer);
    const nlohmann::json c = layer.config();
    const std::vector<Param*> params = const_cast<Layer&>(layer).params();
    const Tensor& k = params[0]->value;
    const int KH = k.shape()[0], KW = k.shape()[1], F = k.shape()[2], C = k.shape()[3];
    const std::string w = floats(layer.name() + "/kernel", {C, F, KH, KW}, k, [&](std::size_t i) {
      const std::size_t x = i % KW, y = i / KW % KH, f = i / (KW * KH) % F, ci = i / (KW * KH * F);
      return ((y * KW + x) * F + f) * C + ci;
    });
    const std::string b = bias(layer, *params[1]);
    const SpatialPads p = built_pads(layer);
    const bool slice = padded_separately(p);
    onnx::NodeProto& n = node("ConvTranspose", layer.name() + "/ConvTranspose", {current_, w, b});
    add_ints(n, "kernel_shape", {KH, KW});
    add_ints(n, "strides", {int_at(c, "strides", 0), int_at(c, "strides", 1)});
    add_ints(n, "pads", slice ? std::vector<std::int64_t>{0, 0, 0, 0} : onnx_pads(p));
    if (p.h.output_padding || p.w.output_padding) add_ints(n, "output_padding", {p.h.output_padding, p.w.output_padding});
    if (slice) {
      // Rows [begin, rows - end) of the unpadded output; an end of 0 keeps the last row.
      const auto stop = [](int end) { return end ? -std::int64_t{end} : std::numeric_limits<std::int64_t>::max(); };
      const std::string at = layer.name() + "/crop_";
      node("Slice", layer.name() + "/Slice",
           {current_, ints(at + "starts", {p.h.begin, p.w.begin}), ints(at + "ends", {stop(p.h.end), stop(p.w.end)}),
            ints(at + "axes", {2, 3})});
    }
    activation(layer, c.at("activation").get<std::string>());
  }

  void max_pool(const Layer& layer) {
    to_nchw(layer);
    const nlohmann::json c = layer.config();
    SpatialPads p = built_pads(layer);
    if (padded_separately(p)) {
      pad(layer, p, std::numeric_limits<float>::lowest());  // a padded tap never wins, as in TensorFlow
      p = {};
    }
    onnx::NodeProto& n = node("MaxPool", layer.name() + "/MaxPool", {current_});
    add_ints(n, "kernel_shape", {int_at(c, "pool_size", 0), int_at(c, "pool_size", 1)});
    add_ints(n, "strides", {int_at(c, "strides", 0), int_at(c, "strides", 1)});
    add_ints(n, "pads", onnx_pads(p));
  }

  // Keras Dense: kernel (in, units) on the last axis. Where the input is a matrix, Gemm
  // with the kernel stored as (units, in) and transB: the form OpenCV 4.6 reads (its
  // importer mistakes the units of an untransposed Gemm weight).
  void dense(const Layer& layer) {
    to_channels_last(layer.name());
    const std::vector<Param*> params = const_cast<Layer&>(layer).params();
    const Tensor& k = params[0]->value;
    const std::size_t in = k.shape()[0], units = k.shape()[1];
    const std::string b = bias(layer, *params[1]);
    if (rank_ == 2) {
      const std::string w = floats(layer.name() + "/kernel", {k.shape()[1], k.shape()[0]}, k,
                                   [&](std::size_t i) { return i % in * units + i / in; });
      add_int(node("Gemm", layer.name() + "/Gemm", {current_, w, b}), "transB", 1);
    } else {
      const std::string w = floats(layer.name() + "/kernel", {k.shape()[0], k.shape()[1]}, k,
                                   [](std::size_t i) { return i; });
      node("MatMul", layer.name() + "/MatMul", {current_, w});
      node("Add", layer.name() + "/Add", {current_, b});
    }
    activation(layer, layer.config().at("activation").get<std::string>());
  }

  // Reshape and Flatten relabel the Keras (channels-last) order; a target 0 copies the
  // input's axis in both Keras-side Reshape and ONNX Reshape.
  void reshape(const Layer& layer) {
    to_channels_last(layer.name());
    if (layer.type() == "Flatten") {
      add_int(node("Flatten", layer.name() + "/Flatten", {current_}), "axis", 1);
      rank_ = 2;
      return;
    }
    const nlohmann::json config = layer.config();
    std::vector<std::int64_t> shape{0};
    for (const nlohmann::json& d : config.at("target_shape")) shape.push_back(json_integer<int>(d, "target_shape"));
    node("Reshape", layer.name() + "/Reshape", {current_, ints(layer.name() + "/shape", shape)});
    rank_ = static_cast<int>(shape.size());
  }

  // Where a branch starts: the tensor that skips the inner layer, and its layout.
  struct Skip {
    std::string tensor;
    bool nchw;
  };

  // Writes the inner layer as a branch beside the skip and leaves its output in the
  // skip's layout (the built model guarantees equal ranks). An image skip goes in NCHW,
  // which the convolutions inside want anyway: one Transpose serves both branches.
  Skip branch(Layer& skip_layer) {
    if (rank_ == 4) to_nchw(skip_layer);
    const Skip skip{current_, nchw_};
    layer(*skip_layer.children().at(0));
    if (skip.nchw)
      to_nchw(skip_layer, skip_layer.name() + "/inner");
    else
      to_channels_last(skip_layer.name() + "/inner");
    return skip;
  }

  // Keras Add / Subtract of the input and the inner layer's output: ONNX Add / Sub.
  void residual(Layer& layer) {
    const Skip skip = branch(layer);
    if (static_cast<const Residual&>(layer).mode() == Residual::Mode::add)
      node("Add", layer.name() + "/Add", {skip.tensor, current_});
    else
      node("Sub", layer.name() + "/Sub", {skip.tensor, current_});
  }

  // Keras Concatenate on the channel axis (the last): ONNX Concat on axis 1 in NCHW.
  void skip_concatenate(Layer& layer) {
    const Skip skip = branch(layer);
    add_int(node("Concat", layer.name() + "/Concat", {skip.tensor, current_}), "axis", nchw_ ? 1 : -1);
  }

  onnx::GraphProto& graph_;
  PadStyle pads_;
  std::string current_;
  int rank_;
  bool nchw_ = false;
};

std::string describe_task(const std::string& task) {
  if (task == "denoise") return "a denoising autoencoder: noisy grey-level images in, denoised images out";
  if (task == "classify") return "a digit classifier: grey-level digit images in, the probabilities of 0-9 out";
  return "a model";
}

// "optimizer adadelta, lr 1, epochs 10, ..." from the run's config, the keys it has
// (switches that are off and a zero shift_augment left out).
std::string describe_training(const nlohmann::json& config) {
  std::string text;
  for (const char* key : {"model", "activation", "on", "noise", "train_noise_range", "fresh_noise", "denoiser",
                          "init_from", "shift_augment", "loss", "optimizer", "lr", "lr_schedule", "epochs",
                          "batch_size", "dataset", "limit", "seed"}) {
    if (!config.contains(key)) continue;
    const nlohmann::json& v = config[key];
    if (v.is_null() || (v.is_string() && v.get<std::string>().empty()) || v == false ||
        (std::string_view(key) == "shift_augment" && v == 0))
      continue;
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", key, v.is_string() ? v.get<std::string>() : v.dump());
  }
  return text;
}

}  // namespace

std::string onnx_model_bytes(Layer& model, const OnnxDescription& description, const OnnxOptions& options) {
  const bool classifier = description.task == "classify";
  const std::string input = "image", output = classifier ? "probabilities" : description.task == "denoise"
                                                                               ? "denoised"
                                                                               : "output";
  const std::string doc = fmt::format(
      "{}: {}. Trained by denoise ({}). Input '{}': float32 (batch, height, width), grey levels in [0, 1]. "
      "Output '{}': {}. Tensors are channels-last at the edges, as in denoise and Keras; inside, convolutions run "
      "in NCHW.",
      model.name(), describe_task(description.task), describe_training(description.config), input, output,
      classifier ? "(batch, 10), the probabilities of the digits 0-9"
      : description.task == "denoise" ? "(batch, height', width'), grey levels in [0, 1]"
                                      : "the model's output");

  onnx::ModelProto m;
  m.set_ir_version(kOnnxIrVersion);
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  m.set_producer_name("denoise");
  m.set_producer_version(DENOISE_VERSION);
  m.set_model_version(1);
  m.set_doc_string(doc);
  const auto meta = [&](const std::string& key, const std::string& value) {
    onnx::StringStringEntryProto* e = m.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  };
  meta("task", description.task);
  meta("training_config", description.config.dump());
  meta("layout", "input (batch, height, width); NHWC at the edges, NCHW inside");
  meta("pads", pad_style_name(options.pads));

  onnx::GraphProto* g = m.mutable_graph();
  g->set_name(model.name());
  g->set_doc_string(doc);
  set_shape(*g->add_input(), input, model.input_shape(), {"height", "width"});
  set_shape(*g->add_output(), output, model.output_shape(), {});
  GraphWriter writer(*g, options.pads, input, static_cast<int>(model.input_shape().size()) + 1);
  writer.layer(model);
  writer.finish(output);

  std::string bytes;
  if (!m.SerializeToString(&bytes)) throw DataError("model '" + model.name() + "': ONNX serialisation failed");
  return bytes;
}

OnnxExportResult export_run_onnx(const fs::path& run_dir, const fs::path& out, const OnnxOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) throw DataError(run_dir.string() + ": not a run folder (no such folder)");
  const nlohmann::json config = read_json(run_dir / kRunConfigFile);
  const nlohmann::json task = config.is_object() ? config.value("task", nlohmann::json("denoise")) : nlohmann::json();
  if (!task.is_string())
    throw DataError((run_dir / kRunConfigFile).string() + ": \"task\" must be \"denoise\" or \"classify\"");
  LoadedRunFolder run = load_run_folder(run_dir, task.get<std::string>());
  std::unique_ptr<Sequential> free = at_any_size(*run.model);
  Layer& model = free ? *free : *run.model;
  const std::string bytes = onnx_model_bytes(model, {task.get<std::string>(), run.config}, options);
  write_file_atomic(out, bytes);
  return {bytes.size(), free != nullptr};
}

}  // namespace dn
