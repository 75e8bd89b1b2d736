// ONNX export (export/onnx.hpp) checked by runtimes that share no code with denoise:
// ONNX Runtime (npm onnxruntime-node, tests/onnx/ort_run.js), ONNX's own checker and
// OpenCV's DNN module (Debian python3-onnx and python3-opencv, tests/onnx/*.py), all
// installed by scripts/setup.sh. Each exported model runs on 256 MNIST test images
// (synthetic digits where data/mnist is missing) and must give denoise's own outputs:
// every built-in model (the skip-connection ones with random weights, which is what
// their export needs, in seconds instead of an epoch) and the shipped U-Nets.
// Each comparison prints a line "onnx-table: ..." with the file's size and the largest
// difference, the numbers of the README's table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <sys/wait.h>

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "core/file_io.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "export/onnx.hpp"
#include "nn/inference.hpp"
#include "nn/layers/layers.hpp"
#include "nn/models.hpp"
#include "core/error.hpp"
#include "run/run_folder.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;

constexpr int kImages = 256;
const fs::path kScripts = fs::path(DENOISE_SOURCE_DIR) / "tests" / "onnx";
const fs::path kOrtPackage =
    fs::path(DENOISE_SOURCE_DIR) / "tools" / "onnxruntime" / "node_modules" / "onnxruntime-node";
// Debian's interpreter, which python3-onnx and python3-opencv install into (not
// whichever python3 comes first in PATH).
constexpr const char* kPython = "/usr/bin/python3";

struct Case {
  // One quick epoch; initialised, biases too; models/<name>; saved by the test that uses it.
  enum Weights { trained, random, shipped, saved_by_test };
  const char* name;  // run folder name
  const char* model;
  const char* activation;
  const char* task;
  Weights weights = trained;
};

const Case kCases[] = {{"seed-relu", "seed", "relu", "denoise"},
                       {"seed-softmax", "seed", "softmax", "denoise"},
                       {"classifier", "classifier", "relu", "classify"},
                       {"classifier-large", "classifier-large", "relu", "classify"},
                       {"dncnn", "dncnn", "relu", "denoise", Case::random},
                       {"unet", "unet", "relu", "denoise", Case::random},
                       {"unet-mnist-gaussian0.1-1.0", "unet", "relu", "denoise", Case::shipped},
                       {"unet-large-mnist-gaussian0.1-1.0", "unet-large", "relu", "denoise", Case::shipped},
                       {"unet-xl-mnist-gaussian0.1-1.0", "unet-xl", "relu", "denoise", Case::shipped},
                       {"classifier-deep", "classifier-deep", "relu", "classify"}};
const Case& kDncnn = kCases[4];
const Case& kUnet = kCases[5];
const Case& kShippedUnet = kCases[6];

test::CliResult run_command(const std::string& command) {
  test::CliResult r;
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

void write_floats(const fs::path& path, const Tensor& t) {
  test::write_bytes(path, std::string(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float)));
}

std::vector<float> read_floats(const fs::path& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

std::string dims_of(const Tensor& x) { return fmt::format("{},{},{}", x.dim(0), x.dim(1), x.dim(2)); }

// The largest |a - b| over the outputs, and whether each row's largest entry (the top-1
// class) is at the same place in both.
struct Comparison {
  double max_abs_diff = 0;
  bool same_top1 = true;
};

Comparison compare(const Tensor& expected, const std::vector<float>& got) {
  Comparison c;
  const std::size_t rows = expected.dim(0), per_row = expected.size() / rows;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* e = expected.data() + r * per_row;
    const float* g = got.data() + r * per_row;
    for (std::size_t i = 0; i < per_row; ++i) c.max_abs_diff = std::max(c.max_abs_diff, double(std::fabs(e[i] - g[i])));
    if (std::max_element(e, e + per_row) - e != std::max_element(g, g + per_row) - g) c.same_top1 = false;
  }
  return c;
}

// Run folders of every built-in model (a quick epoch on synthetic digits, so that
// classifiers have clear top-1 classes), each made when a test first reads it, and the
// test images.
class Export : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new test::TempDir;
    const fs::path data = *root_ / "data";
    write_data_folder(data, make_synthetic_digits(1200, 1), make_synthetic_digits(100, 2));
    const char* env = std::getenv("DENOISE_DATA");
    const fs::path mnist = env ? fs::path(env) / "mnist" : fs::path(DENOISE_SOURCE_DIR) / "data" / "mnist";
    images_from_ = fs::exists(mnist / kTestImagesFile) ? "MNIST test set" : "synthetic digits (no data/mnist)";
    const Dataset test = fs::exists(mnist / kTestImagesFile)
                             ? load_data_file({"mnist", mnist.string(), 0, {}}, DataFile::test)
                             : make_synthetic_digits(kImages, 3);
    images_ = new Tensor(subset(test, 0, kImages).images);
  }
  static void TearDownTestSuite() {
    delete images_;
    delete root_;
  }

  void SetUp() override {
    ASSERT_TRUE(fs::exists(kOrtPackage)) << "ONNX Runtime is not installed in " << kOrtPackage
                                         << ": run scripts/setup.sh";
  }

  // The case's run folder, made on first use: ctest runs each test in a process of its
  // own, which then trains only the runs that its test reads.
  static fs::path run_dir(const Case& c) {
    if (c.weights == Case::shipped) return fs::path(DENOISE_SOURCE_DIR) / "models" / c.name;
    const fs::path dir = *root_ / c.name;
    if (c.weights == Case::trained && !fs::exists(dir)) train_run(c, dir);
    if (c.weights == Case::random && !fs::exists(dir)) save_random_run(c, dir);
    return dir;
  }

  static void train_run(const Case& c, const fs::path& dir) {
    const std::string data = (*root_ / "data").string();
    const test::CliResult r =
        std::string(c.task) == "denoise"
            ? test::run_denoise({"train", "--model", c.model, "--activation", c.activation, "--epochs", "1", "--limit",
                                 "600", "--data-dir", data, "--out", dir.string()})
            : test::run_denoise({"classify", "train", "--model", c.model, "--epochs", "1", "--limit", "1200",
                                 "--shift-augment", "1", "--data-dir", data, "--out", dir.string()});
    EXPECT_EQ(r.status, 0) << r.output;
  }

  // The built-in model with its initial weights and biases drawn too (they start at 0),
  // so that every parameter's place in the file is checked.
  static void save_random_run(const Case& c, const fs::path& dir) {
    auto model = make_model({c.model, c.activation, 28, 28}, 11);
    Rng rng(12);
    for (const auto& [name, param] : named_params(*model))
      if (name.ends_with("/bias"))
        for (std::size_t i = 0; i < param->value.size(); ++i) param->value[i] = float(rng.uniform(-0.1, 0.1));
    save_run_folder(dir, {{"task", c.task}, {"model", c.model}}, *model, nlohmann::json::array());
  }

  // denoise export, checked to succeed; the file's path.
  static fs::path exported(const Case& c, const std::string& pads) {
    const fs::path out = *root_ / "onnx" / (std::string(c.name) + "." + pads + ".onnx");
    if (!fs::exists(out)) {
      const test::CliResult r =
          test::run_denoise({"export", run_dir(c).string(), "--format", "onnx", "--out", out.string(), "--pads", pads});
      EXPECT_EQ(r.status, 0) << r.output;
    }
    return out;
  }

  // denoise's own outputs for x.
  static Tensor expected(const Case& c, const Tensor& x) {
    LoadedRunFolder run = load_run_folder(run_dir(c), c.task);
    Tensor y;
    predict(*run.model, x, y);
    return y;
  }

  // The runtime's outputs for x (script: ort_run.js or opencv_run.py).
  static std::vector<float> run_in(const std::string& runtime, const fs::path& model, const Tensor& x) {
    const fs::path in = model.string() + ".in.f32", out = model.string() + "." + runtime + ".out.f32";
    write_floats(in, x);
    const std::string args = fmt::format("{} {} {} {}", quoted(model), quoted(in), dims_of(x), quoted(out));
    const test::CliResult r = runtime == "ort"
                                  ? run_command("node " + quoted(kScripts / "ort_run.js") + " " + args)
                                  : run_command(std::string(kPython) + " " + quoted(kScripts / "opencv_run.py") + " " + args);
    EXPECT_EQ(r.status, 0) << runtime << ": " << r.output;
    return r.status == 0 ? read_floats(out) : std::vector<float>{};
  }

  // Runs model on x in the runtime and compares with denoise within tolerance.
  static void check(const Case& c, const std::string& pads, const std::string& runtime, const Tensor& x,
                    double tolerance) {
    const fs::path model = exported(c, pads);
    const Tensor want = expected(c, x);
    const std::vector<float> got = run_in(runtime, model, x);
    ASSERT_EQ(got.size(), want.size()) << c.name << " " << runtime;
    const Comparison cmp = compare(want, got);
    EXPECT_LE(cmp.max_abs_diff, tolerance) << c.name << " " << pads << " " << runtime;
    if (std::string(c.task) == "classify") {
      EXPECT_TRUE(cmp.same_top1) << c.name << " " << runtime;
    }
    std::cout << fmt::format("onnx-table: {} | pads {} | {} bytes | {} | {}x{}x{} ({}) | max abs diff {:.3g}{}\n",
                             c.name, pads, fs::file_size(model), runtime, x.dim(0), x.dim(1), x.dim(2),
                             images_from_, cmp.max_abs_diff,
                             std::string(c.task) == "classify" ? (cmp.same_top1 ? " | top-1 identical" : " | top-1 DIFFERS") : "");
  }

  static const Tensor& images() { return *images_; }

  // x's images padded or cropped to h x w (top-left anchored), for other sizes.
  static Tensor resized(const Tensor& x, int h, int w) {
    Tensor y({x.dim(0), h, w});
    for (int n = 0; n < x.dim(0); ++n)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j)
          y[(std::size_t(n) * h + i) * w + j] = x[(std::size_t(n) * x.dim(1) + i % x.dim(1)) * x.dim(2) + j % x.dim(2)];
    return y;
  }

  static test::TempDir* root_;
  static Tensor* images_;
  static std::string images_from_;
};

test::TempDir* Export::root_ = nullptr;
Tensor* Export::images_ = nullptr;
std::string Export::images_from_;

// ONNX Runtime: every model, both pad forms, within 1e-5 of denoise, top-1 identical.
TEST_F(Export, OnnxRuntimeMatchesDenoiseOnEveryModel) {
  for (const Case& c : kCases)
    for (const char* pads : {"explicit", "slice"}) check(c, pads, "ort", images(), 1e-5);
}

// A fully convolutional model at other sizes: even sides, and odd ones that come out
// a row and a column shorter (pooling by 2, upsampling by 2).
TEST_F(Export, OnnxRuntimeRunsTheSeedModelAtOtherSizes) {
  for (const char* pads : {"explicit", "slice"}) {
    check(kCases[0], pads, "ort", resized(images(), 40, 56), 1e-5);
    check(kCases[1], pads, "ort", resized(images(), 31, 45), 1e-5);
  }
}

// The skip-connection models at other sizes: DnCNN at any, the U-Net at sides divisible
// by 4 (its two poolings by 2 must be undone exactly for the concatenations).
TEST_F(Export, OnnxRuntimeRunsTheSkipModelsAtOtherSizes) {
  for (const char* pads : {"explicit", "slice"}) {
    check(kDncnn, pads, "ort", resized(images(), 31, 45), 1e-5);
    check(kShippedUnet, pads, "ort", resized(images(), 40, 56), 1e-5);
  }
}

// OpenCV 4.6 refuses asymmetric pads, so the autoencoders go in their slice form; the
// classifiers' pads are symmetric and their explicit form loads as it is.
TEST_F(Export, OpenCvMatchesDenoiseWithinOneInTenThousand) {
  for (const Case& c : kCases) check(c, std::string(c.task) == "denoise" ? "slice" : "explicit", "opencv", images(), 1e-4);
  check(kCases[0], "slice", "opencv", resized(images(), 40, 56), 1e-4);
  check(kCases[1], "slice", "opencv", resized(images(), 31, 45), 1e-4);
  check(kDncnn, "slice", "opencv", resized(images(), 31, 45), 1e-4);
  check(kShippedUnet, "slice", "opencv", resized(images(), 40, 56), 1e-4);
}

// Why the slice form exists: OpenCV 4.6 will not load the stride-2 transposed
// convolution's pads (0 before, 1 after).
TEST_F(Export, OpenCvRefusesTheExplicitAsymmetricPads) {
  const fs::path model = exported(kCases[0], "explicit");
  const fs::path in = model.string() + ".in.f32", out = model.string() + ".opencv.out.f32";
  write_floats(in, images());
  const test::CliResult r = run_command(fmt::format("{} {} {} {} {} {}", kPython, quoted(kScripts / "opencv_run.py"),
                                                    quoted(model), quoted(in), dims_of(images()), quoted(out)));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Unsupported asymmetric padding"), std::string::npos) << r.output;
}

TEST_F(Export, OnnxCheckerAcceptsEveryFileWithFullCheck) {
  for (const Case& c : kCases)
    for (const char* pads : {"explicit", "slice"}) {
      const test::CliResult r =
          run_command(std::string(kPython) + " " + quoted(kScripts / "check_model.py") + " " + quoted(exported(c, pads)));
      EXPECT_EQ(r.status, 0) << c.name << " " << pads << ": " << r.output;
      EXPECT_NE(r.output.find("ok: ir_version 8, opset {'ai.onnx': 17}"), std::string::npos) << r.output;
    }
}

onnx::ModelProto parsed(const fs::path& path) {
  onnx::ModelProto m;
  const std::string bytes = read_file_text(path);
  EXPECT_TRUE(m.ParseFromString(bytes)) << path;
  return m;
}

const onnx::NodeProto* find_node(const onnx::GraphProto& g, const std::string& op) {
  for (const onnx::NodeProto& n : g.node())
    if (n.op_type() == op) return &n;
  return nullptr;
}

std::vector<std::int64_t> ints_attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const onnx::AttributeProto& a : n.attribute())
    if (a.name() == name) return {a.ints().begin(), a.ints().end()};
  return {};
}

// A model no built-in uses, for the paths they do not take: strided "same" layers whose
// pads are asymmetric (a Pad in the slice form, a lowest-float one before max pooling),
// a transposed convolution with output_padding (kernel below the stride), Dense on
// a rank-4 tensor (MatMul), a standalone softmax over channels. Its pads depend on the
// size, so its height and width stay fixed.
TEST_F(Export, OnnxRuntimeMatchesDenoiseOnLayersTheBuiltinsDoNotUse) {
  auto model = std::make_unique<Sequential>("odd_layers");
  model->add(std::make_unique<Reshape>(Shape{28, 28, 1}))
      .add(std::make_unique<Conv2D>(4, 3, 2, Padding::same, Activation::tanh))
      .add(std::make_unique<MaxPooling2D>(3, Size2(2), Padding::same))
      .add(std::make_unique<Conv2DTranspose>(3, 2, 3, Padding::valid, Activation::relu))
      .add(std::make_unique<Dense>(5, Activation::sigmoid))
      .add(std::make_unique<ActivationLayer>(Activation::softmax))
      .add(std::make_unique<Flatten>())
      .add(std::make_unique<Dense>(10, Activation::softmax));
  assign_default_names(*model);
  Rng rng(7);
  model->build({28, 28}, rng);
  const Case c{"odd-layers", "odd_layers", "relu", "classify", Case::saved_by_test};
  save_run_folder(run_dir(c), {{"task", "classify"}, {"model", "odd_layers"}}, *model, nlohmann::json::array());
  for (const char* pads : {"explicit", "slice"}) check(c, pads, "ort", images(), 1e-5);
  const onnx::ModelProto slice_form = parsed(exported(c, "slice"));
  int pads_written = 0;
  for (const onnx::NodeProto& n : slice_form.graph().node()) pads_written += n.op_type() == "Pad";
  EXPECT_EQ(pads_written, 2);
  EXPECT_EQ(slice_form.graph().input(0).type().tensor_type().shape().dim(1).dim_value(), 28);
}

// TensorFlow's "same" stride-2 transposed convolution: nothing before, one row and
// column after, written as pads and never as auto_pad; or unpadded, then a Slice.
TEST_F(Export, TheStrideTwoTransposedConvolutionPadsAsTensorFlow) {
  const onnx::ModelProto explicit_form = parsed(exported(kCases[0], "explicit"));
  const onnx::NodeProto* up = find_node(explicit_form.graph(), "ConvTranspose");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(ints_attribute(*up, "strides"), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(ints_attribute(*up, "pads"), (std::vector<std::int64_t>{0, 0, 1, 1}));
  for (const onnx::NodeProto& n : explicit_form.graph().node())
    for (const onnx::AttributeProto& a : n.attribute()) EXPECT_NE(a.name(), "auto_pad") << n.name();
  EXPECT_EQ(find_node(explicit_form.graph(), "Slice"), nullptr);

  const onnx::ModelProto slice_form = parsed(exported(kCases[0], "slice"));
  up = find_node(slice_form.graph(), "ConvTranspose");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(ints_attribute(*up, "pads"), (std::vector<std::int64_t>{0, 0, 0, 0}));
  EXPECT_NE(find_node(slice_form.graph(), "Slice"), nullptr);
}

// Batch always free; height and width free only for the fully convolutional model;
// names and doc strings say what the model is and how it was trained.
TEST_F(Export, FilesDescribeTheirModelAndItsFreeAxes) {
  const onnx::ModelProto seed = parsed(exported(kCases[1], "explicit"));
  EXPECT_EQ(seed.ir_version(), 8);
  EXPECT_EQ(seed.opset_import(0).version(), 17);
  EXPECT_EQ(seed.producer_name(), "denoise");
  EXPECT_EQ(seed.graph().name(), "conv_ae");
  const auto& in = seed.graph().input(0);
  EXPECT_EQ(in.name(), "image");
  EXPECT_EQ(in.type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(in.type().tensor_type().shape().dim(1).dim_param(), "height");
  EXPECT_EQ(in.type().tensor_type().shape().dim(2).dim_param(), "width");
  EXPECT_EQ(seed.graph().output(0).name(), "denoised");
  EXPECT_NE(seed.doc_string().find("denoising autoencoder"), std::string::npos) << seed.doc_string();
  EXPECT_NE(seed.doc_string().find("activation softmax"), std::string::npos) << seed.doc_string();
  const onnx::NodeProto* softmax = find_node(seed.graph(), "Softmax");
  ASSERT_NE(softmax, nullptr);  // over channels: axis 1 in NCHW
  EXPECT_EQ(softmax->attribute(0).i(), 1);

  const onnx::ModelProto classifier = parsed(exported(kCases[3], "explicit"));
  const auto& shape = classifier.graph().input(0).type().tensor_type().shape();
  EXPECT_EQ(shape.dim(0).dim_param(), "batch");
  EXPECT_EQ(shape.dim(1).dim_value(), 28);
  EXPECT_EQ(shape.dim(2).dim_value(), 28);
  EXPECT_EQ(classifier.graph().output(0).name(), "probabilities");
  EXPECT_NE(classifier.doc_string().find("digit classifier"), std::string::npos) << classifier.doc_string();
  EXPECT_NE(classifier.doc_string().find("shift_augment 1"), std::string::npos) << classifier.doc_string();
  // The shipped U-Net's noise: levels drawn in a range, afresh every epoch.
  const std::string unet = parsed(exported(kCases[7], "explicit")).doc_string();
  EXPECT_NE(unet.find("train_noise_range [0.1,1.0], fresh_noise true"), std::string::npos) << unet;
  EXPECT_NE(unet.find("loss psnr"), std::string::npos) << unet;
  bool has_config = false;
  for (const auto& p : classifier.metadata_props())
    if (p.key() == "training_config") has_config = nlohmann::json::parse(p.value())["model"] == "classifier-large";
  EXPECT_TRUE(has_config);
}

// Bad input: a clear error, the right exit status, and no file (not even a partial one).
TEST_F(Export, BadInputGivesAClearErrorAndNoFile) {
  const fs::path out = *root_ / "bad" / "model.onnx";
  const auto refused = [&](const std::vector<std::string>& args, int status, const std::string& says) {
    const test::CliResult r = test::run_denoise(args);
    EXPECT_EQ(r.status, status) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out));
    if (fs::exists(out.parent_path()))
      for (const auto& e : fs::directory_iterator(out.parent_path())) ADD_FAILURE() << "left behind: " << e.path();
  };
  refused({"export", (*root_ / "missing").string(), "--out", out.string()}, 1, "not a run folder");
  refused({"export", run_dir(kCases[0]).string(), "--out", out.string(), "--pads", "same"}, 2, "--pads must be");
  refused({"export", run_dir(kCases[0]).string(), "--format", "tflite", "--out", out.string()}, 2, "--format");

  // A model with a layer the exporter does not know.
  const fs::path unknown = *root_ / "unknown-model";
  fs::copy(run_dir(kCases[0]), unknown);
  nlohmann::json model = read_json(unknown / kRunModelFile);
  model["config"]["layers"][0]["config"]["layers"][1]["class_name"] = "Conv3D";
  write_json_atomic(unknown / kRunModelFile, model);
  refused({"export", unknown.string(), "--out", out.string()}, 1, "Conv3D");

  // Damaged weights.
  const fs::path corrupt = *root_ / "corrupt";
  fs::copy(run_dir(kCases[2]), corrupt);
  const std::string weights = read_file_text(corrupt / kRunWeightsFile);
  test::write_bytes(corrupt / kRunWeightsFile, weights.substr(0, weights.size() / 2));
  refused({"export", corrupt.string(), "--out", out.string()}, 1, corrupt.string());

  // An unwritable path: a folder where the file should go, and a path under a file.
  fs::create_directories(out);
  const test::CliResult r = test::run_denoise({"export", run_dir(kCases[0]).string(), "--out", out.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(fs::is_directory(out));
  EXPECT_TRUE(fs::is_empty(out));
  fs::remove(out);
  const fs::path under_file = run_dir(kCases[0]) / kRunConfigFile / "model.onnx";
  const test::CliResult r2 = test::run_denoise({"export", run_dir(kCases[0]).string(), "--out", under_file.string()});
  EXPECT_EQ(r2.status, 1) << r2.output;
  EXPECT_NE(r2.output.find("cannot"), std::string::npos) << r2.output;
}

// The nodes that consume a tensor.
std::vector<const onnx::NodeProto*> readers(const onnx::GraphProto& g, const std::string& tensor) {
  std::vector<const onnx::NodeProto*> found;
  for (const onnx::NodeProto& n : g.node())
    if (std::find(n.input().begin(), n.input().end(), tensor) != n.input().end()) found.push_back(&n);
  return found;
}

// DnCNN's Residual (mode subtract) is Sub(input, noise estimate), the input taken in
// NCHW from the Transpose that also feeds the first convolution; the U-Net's two skips
// are Concat(features, upsampled) on axis 1, the channels in NCHW. Sizes stay free.
TEST_F(Export, SkipConnectionsAreSubAndConcatOnTheChannelAxis) {
  for (const char* pads : {"explicit", "slice"}) {
    const onnx::ModelProto dncnn = parsed(exported(kDncnn, pads));
    const onnx::GraphProto& g = dncnn.graph();
    const onnx::NodeProto* sub = find_node(g, "Sub");
    ASSERT_NE(sub, nullptr) << pads;
    ASSERT_EQ(sub->input_size(), 2);
    const onnx::NodeProto* skip = find_node(g, "Transpose");
    ASSERT_NE(skip, nullptr);
    EXPECT_EQ(sub->input(0), skip->output(0));
    EXPECT_EQ(readers(g, skip->output(0)).size(), 2u);  // the first Conv and the Sub
    EXPECT_EQ(std::count_if(g.node().begin(), g.node().end(), [](const auto& n) { return n.op_type() == "Transpose"; }),
              2);  // in and out of NCHW once
    EXPECT_EQ(sub->input(1), "conv2d_5/Conv");  // the linear last convolution
    EXPECT_EQ(find_node(g, "Add"), nullptr);
    EXPECT_EQ(g.input(0).type().tensor_type().shape().dim(1).dim_param(), "height");

    const onnx::ModelProto unet = parsed(exported(kUnet, pads));
    int concats = 0;
    for (const onnx::NodeProto& n : unet.graph().node()) {
      if (n.op_type() != "Concat") continue;
      ++concats;
      ASSERT_EQ(n.input_size(), 2);
      ASSERT_EQ(n.attribute_size(), 1);
      EXPECT_EQ(n.attribute(0).name(), "axis");
      EXPECT_EQ(n.attribute(0).i(), 1) << n.name();
    }
    EXPECT_EQ(concats, 2);
    const onnx::NodeProto* outer = nullptr;
    for (const onnx::NodeProto& n : unet.graph().node())
      if (n.op_type() == "Concat" && n.input(0) == "conv2d/Relu") outer = &n;
    ASSERT_NE(outer, nullptr) << "the full-size features are the outer Concat's first input";
    EXPECT_EQ(outer->input(1), "conv2d_transpose_1/Relu");
    EXPECT_EQ(unet.graph().input(0).type().tensor_type().shape().dim(2).dim_param(), "width");
  }
}

// Skips the built-ins do not take: Residual in mode add; a skip of the rank-3 input
// (no layout to change); a Dense inside a branch, which runs channels-last while its
// skip waits in NCHW; an inner layer that is a single layer, not a Sequential.
TEST_F(Export, OnnxRuntimeMatchesDenoiseOnSkipsTheBuiltinsDoNotUse) {
  auto around = std::make_unique<Sequential>("around");
  around->add(std::make_unique<Reshape>(Shape{0, 0, 1}))
      .add(std::make_unique<Conv2D>(2, 3, 1, Padding::same, Activation::tanh))
      .add(std::make_unique<Conv2D>(1, 3, 1, Padding::same, Activation::linear))
      .add(std::make_unique<Reshape>(Shape{0, 0}));
  auto model = std::make_unique<Sequential>("skip_layers");
  model->add(std::make_unique<Residual>(std::move(around), Residual::Mode::add))
      .add(std::make_unique<Reshape>(Shape{0, 0, 1}))
      .add(std::make_unique<SkipConcatenate>(std::make_unique<Dense>(3, Activation::sigmoid)))
      .add(std::make_unique<Residual>(std::make_unique<Conv2D>(4, 3, 1, Padding::same, Activation::relu),
                                      Residual::Mode::add))
      .add(std::make_unique<Conv2D>(1, 3, 1, Padding::same, Activation::sigmoid))
      .add(std::make_unique<Reshape>(Shape{0, 0}));
  assign_default_names(*model);
  Rng rng(13);
  model->build({28, 28}, rng);
  const Case c{"skip-layers", "skip_layers", "relu", "denoise", Case::saved_by_test};
  save_run_folder(run_dir(c), {{"task", "denoise"}, {"model", "skip_layers"}}, *model, nlohmann::json::array());
  for (const char* pads : {"explicit", "slice"}) {
    check(c, pads, "ort", images(), 1e-5);
    check(c, pads, "ort", resized(images(), 31, 45), 1e-5);
  }
  const onnx::ModelProto m = parsed(exported(c, "explicit"));
  int adds = 0;
  for (const onnx::NodeProto& n : m.graph().node()) adds += n.op_type() == "Add" && n.name().starts_with("residual");
  EXPECT_EQ(adds, 2);
  EXPECT_EQ(find_node(m.graph(), "Add")->input(0), "image");  // the rank-3 skip, untransposed
  const onnx::NodeProto* concat = find_node(m.graph(), "Concat");
  ASSERT_NE(concat, nullptr);
  EXPECT_EQ(concat->attribute(0).i(), 1);
}

}  // namespace
}  // namespace dn
