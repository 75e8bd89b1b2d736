// The fast kernels against the plain reference loops (kernels/reference), on random
// data over many shapes. Agreement: max over elements of |fast - ref| / max(|ref|, rms)
// at most 1e-5, rms the root mean square of the whole reference array. That is the
// relative error, except that values smaller than the array's typical size are judged
// against that size: a value that came out of cancellation in a long float sum can only
// be as exact as the terms that cancelled (|fast - ref| / max(1, |ref|) would instead
// depend on the data's units, and fails for 784-term dot products of values near 1).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "kernels/activation.hpp"
#include "kernels/conv.hpp"
#include "kernels/pool.hpp"
#include "kernels/reference/reference.hpp"
#include "kernels/simd/simd.hpp"

namespace dn {
namespace {

constexpr double kTol = 1e-5;
// Wide 3x3 stride-1 layers may run Winograd F(4x4, 3x3), whose transforms (entries up to
// 8, and 1/24) round more: 1-3e-5 here, against under 1e-6 for F(2x2).
constexpr double kWinograd4Tol = 5e-5;

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = static_cast<float>(rng.uniform(lo, hi));
  return v;
}

double max_rel_error(const std::vector<float>& fast, const std::vector<float>& ref) {
  EXPECT_EQ(fast.size(), ref.size());
  double sum_sq = 0.0;
  for (float v : ref) sum_sq += double(v) * v;
  const double rms = std::sqrt(sum_sq / std::max<std::size_t>(ref.size(), 1));
  double worst = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double diff = std::abs(double(fast[i]) - ref[i]);
    if (diff == 0.0) continue;
    const double err = diff / std::max(std::abs(double(ref[i])), rms);
    worst = std::isnan(err) ? INFINITY : std::max(worst, err);
  }
  return worst;
}

const char* act_name(Activation a) {
  switch (a) {
    case Activation::linear: return "linear";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
    case Activation::softmax: return "softmax";
  }
  return "?";
}

constexpr Activation kAllActivations[] = {Activation::linear, Activation::relu, Activation::sigmoid,
                                          Activation::tanh, Activation::softmax};

// --- geometry ---

TEST(ConvGeometry, FollowsTensorFlowPadding) {
  struct Row {
    int in, k, s;
    Padding p;
    int out, pad_before;
  };
  const Row rows[] = {
      {28, 3, 1, Padding::same, 28, 1}, {28, 3, 2, Padding::same, 14, 0}, {7, 3, 2, Padding::same, 4, 1},
      {5, 5, 1, Padding::same, 5, 2},   {6, 4, 1, Padding::same, 6, 1},   {9, 5, 2, Padding::valid, 3, 0},
      {9, 9, 1, Padding::valid, 1, 0},  {28, 2, 2, Padding::valid, 14, 0}, {7, 2, 2, Padding::valid, 3, 0},
  };
  for (const Row& r : rows) {
    const ConvGeometry g = conv_geometry(1, r.in, 3, 1, 1, r.k, 1, r.s, 1, r.p);
    SCOPED_TRACE(fmt::format("in {} k {} s {} {}", r.in, r.k, r.s, padding_name(r.p)));
    EXPECT_EQ(g.OH, r.out);
    EXPECT_EQ(g.pad_top, r.pad_before);
  }
  EXPECT_THROW(conv_geometry(1, 4, 4, 1, 1, 5, 5, 1, 1, Padding::valid), UsageError);
  EXPECT_THROW(conv_geometry(1, 4, 4, 1, 1, 3, 3, 0, 1, Padding::same), UsageError);
}

TEST(ConvGeometry, TransposeFollowsKerasOutputRules) {
  // Seed decoder: 14x14x14 -> 28x28x12, stride 2 same: nothing padded before, one row after.
  ConvGeometry g = conv_transpose_geometry(1, 14, 14, 14, 12, 3, 3, 2, 2, Padding::same);
  EXPECT_EQ(g.H, 28);
  EXPECT_EQ(g.C, 12);
  EXPECT_EQ(g.OH, 14);
  EXPECT_EQ(g.O, 14);
  EXPECT_EQ(g.pad_top, 0);
  // valid: (in-1)*s + k when k >= s; in*s when k < s.
  EXPECT_EQ(conv_transpose_geometry(1, 5, 5, 1, 1, 3, 3, 2, 2, Padding::valid).H, 11);
  EXPECT_EQ(conv_transpose_geometry(1, 5, 5, 1, 1, 1, 1, 2, 2, Padding::valid).H, 10);
  EXPECT_EQ(conv_transpose_geometry(1, 5, 5, 1, 1, 3, 3, 1, 1, Padding::same).pad_top, 1);
  EXPECT_EQ(parse_padding("same"), Padding::same);
  EXPECT_THROW(parse_padding("full"), UsageError);
}

// --- activations ---

TEST(ActivationKernels, MatchReference) {
  for (auto [channels, rows] : {std::pair<int, std::size_t>{1, 33 * 7 * 5}, {3, 41}, {5, 41}, {16, 41}, {14, 33 * 7 * 5},
                                {12, 33 * 14 * 14}}) {
    // (softmax moves whole tiles of four channels and the rest one by one; the last is
    // big enough for the kernels to split it over threads)
    const std::size_t n = rows * channels;
    const auto z = random_floats(n, 1, -8.0, 8.0);
    const auto dy = random_floats(n, 2);
    for (Activation act : kAllActivations) {
      SCOPED_TRACE(fmt::format("{} channels {}", act_name(act), channels));
      std::vector<float> y = z, y_ref = z;
      kernels::activation_forward(act, y.data(), rows, channels);
      reference::activation_forward(act, y_ref.data(), rows, channels);
      EXPECT_LE(max_rel_error(y, y_ref), kTol);
      std::vector<float> dz(n), dz_ref(n);
      kernels::activation_backward(act, y_ref.data(), dy.data(), dz.data(), rows, channels);
      reference::activation_backward(act, y_ref.data(), dy.data(), dz_ref.data(), rows, channels);
      EXPECT_LE(max_rel_error(dz, dz_ref), kTol);
    }
  }
}

TEST(ActivationKernels, SigmoidAtTheExtremes) {
  std::vector<float> y = {-1e30f, -100.0f, -30.0f, 0.0f, 30.0f, 100.0f, 1e30f, NAN};
  kernels::activation_forward(Activation::sigmoid, y.data(), y.size(), 1);
  EXPECT_GE(y[0], 0.0f);
  EXPECT_LT(y[0], 1e-37f);
  EXPECT_LT(y[1], 1e-37f);
  EXPECT_NEAR(y[2], 9.357623e-14, 1e-19);
  EXPECT_EQ(y[3], 0.5f);
  EXPECT_EQ(y[4], 1.0f);
  EXPECT_EQ(y[5], 1.0f);
  EXPECT_EQ(y[6], 1.0f);
  EXPECT_TRUE(std::isnan(y[7]));  // a diverging run must stay visible
}

// Softmax runs over blocks of rows; a row's bits must not depend on the rows beside it,
// or inference in blocks would differ from one forward over the batch.
TEST(ActivationKernels, SoftmaxRowsAreIndependentOfTheirBlock) {
  for (int channels : {4, 7, 12, 14, 33}) {
    SCOPED_TRACE(fmt::format("channels {}", channels));
    const std::size_t rows = 37;  // two whole blocks of 16 and a partial one
    const auto z = random_floats(rows * channels, 3, -30.0, 30.0);
    std::vector<float> whole = z, one_by_one = z;
    kernels::activation_forward(Activation::softmax, whole.data(), rows, channels);
    for (std::size_t r = 0; r < rows; ++r)
      kernels::activation_forward(Activation::softmax, one_by_one.data() + r * channels, 1, channels);
    EXPECT_EQ(whole, one_by_one);
  }
}

TEST(ActivationKernels, SoftmaxIsStableForLargeInputs) {
  std::vector<float> y = {1000.0f, 999.0f, -1000.0f, 88.0f, 90.0f, 89.0f};
  kernels::activation_forward(Activation::softmax, y.data(), 2, 3);
  for (float v : y) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(y[0] + y[1] + y[2], 1.0, 1e-6);
  EXPECT_NEAR(y[3] + y[4] + y[5], 1.0, 1e-6);
  EXPECT_NEAR(y[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
}

TEST(ActivationKernels, ChannelSumsAdd) {
  // Few channels (summed in flat runs of rows, some rows left over) and many.
  for (auto [rows, channels] : {std::pair{1000, 70}, {2500, 12}, {2503, 1}, {7, 3}}) {
    SCOPED_TRACE(fmt::format("{} rows x {} channels", rows, channels));
    const auto x = random_floats(std::size_t(rows) * channels, 3);
    std::vector<float> sums(channels, 1.0f);
    kernels::add_channel_sums(x.data(), rows, channels, sums.data());
    for (int c = 0; c < channels; ++c) {
      double s = 1.0;
      for (int r = 0; r < rows; ++r) s += x[std::size_t(r) * channels + c];
      EXPECT_NEAR(sums[c], s, 1e-5 * std::max(1.0, std::abs(s)));
    }
  }
}

// --- convolution ---

struct ConvCase {
  int N, H, W, C, O, KH, KW, sh, sw;
  Padding padding;
  Activation act;
};

// The agreement asked of a case: kWinograd4Tol where its forward or backward-data may run
// F(4x4, 3x3) (3x3, stride 1, 16 or more channels on each side), kTol elsewhere.
double tolerance(const ConvCase& c) {
  return c.KH == 3 && c.KW == 3 && c.sh == 1 && c.sw == 1 && c.C >= 16 && c.O >= 16 ? kWinograd4Tol : kTol;
}

std::string describe(const ConvCase& c) {
  return fmt::format("N{} {}x{}x{} -> {} k{}x{} s{}x{} {} {}", c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw,
                     padding_name(c.padding), act_name(c.act));
}

const ConvCase kConvCases[] = {
    {1, 7, 5, 1, 14, 3, 3, 1, 1, Padding::same, Activation::relu},
    {33, 9, 9, 14, 1, 5, 5, 2, 2, Padding::valid, Activation::sigmoid},
    {33, 7, 5, 14, 14, 3, 3, 2, 2, Padding::same, Activation::tanh},
    {1, 9, 9, 1, 1, 5, 5, 1, 1, Padding::valid, Activation::linear},
    {33, 9, 9, 1, 14, 5, 5, 1, 1, Padding::same, Activation::softmax},
    {2, 28, 28, 1, 12, 3, 3, 1, 1, Padding::same, Activation::relu},     // seed conv 1
    {3, 14, 14, 12, 14, 3, 3, 1, 1, Padding::same, Activation::softmax},  // seed conv 2
    {2, 28, 28, 3, 4, 3, 3, 2, 2, Padding::same, Activation::linear},
    {2, 23, 21, 14, 6, 5, 5, 1, 1, Padding::same, Activation::relu},  // a sample spans several chunks
    {4, 8, 6, 3, 5, 3, 1, 1, 2, Padding::same, Activation::sigmoid},  // non-square kernel and strides
    {5, 6, 7, 4, 3, 1, 1, 1, 1, Padding::valid, Activation::tanh},    // 1x1: GEMM straight on x
    {33, 5, 5, 14, 14, 3, 3, 1, 1, Padding::valid, Activation::relu},
    // Corners of the SIMD kernels: full vectors, strides they leave to the portable
    // path, few input channels summed across lanes, and a whole 4-row kernel in registers.
    {3, 9, 8, 16, 16, 3, 3, 1, 1, Padding::same, Activation::relu},
    {2, 13, 11, 5, 7, 3, 3, 3, 3, Padding::same, Activation::tanh},
    {3, 9, 10, 2, 9, 3, 3, 1, 2, Padding::same, Activation::sigmoid},
    {2, 10, 9, 3, 11, 4, 2, 2, 1, Padding::valid, Activation::relu},
    {2, 7, 9, 20, 18, 3, 3, 1, 1, Padding::same, Activation::linear},
    // Winograd F(2x2, 3x3) forward: odd sizes (tiles cut at the edge), rows of more
    // tiles than one pass holds, and the fewest input channels it takes.
    {2, 13, 11, 12, 14, 3, 3, 1, 1, Padding::same, Activation::relu},
    {2, 9, 35, 4, 3, 3, 3, 1, 1, Padding::valid, Activation::sigmoid},
    {1, 3, 3, 7, 16, 3, 3, 1, 1, Padding::valid, Activation::linear},
};

// The kernel tests below run once per SIMD target that this CPU and build have: the
// fixture pins the target (kernels/simd) and restores the one before it afterwards.
class OnEveryTarget : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    before_ = kernels::simd::target();
    kernels::simd::use_target(GetParam());
  }
  void TearDown() override { kernels::simd::use_target(before_); }

 private:
  std::string before_;
};
using ConvKernels = OnEveryTarget;
using ConvTransposeKernels = OnEveryTarget;
using DenseKernels = OnEveryTarget;
using PoolKernels = OnEveryTarget;
std::string target_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }
INSTANTIATE_TEST_SUITE_P(Targets, ConvKernels, ::testing::ValuesIn(kernels::simd::available_targets()), target_name);
INSTANTIATE_TEST_SUITE_P(Targets, ConvTransposeKernels, ::testing::ValuesIn(kernels::simd::available_targets()),
                         target_name);
INSTANTIATE_TEST_SUITE_P(Targets, DenseKernels, ::testing::ValuesIn(kernels::simd::available_targets()), target_name);
INSTANTIATE_TEST_SUITE_P(Targets, PoolKernels, ::testing::ValuesIn(kernels::simd::available_targets()), target_name);

// The implementations under test: what kernels/conv.hpp picks, the portable one, and
// the SIMD one where it covers the shape (on the target the fixture pinned).
enum class Path { best, portable, simd };

std::vector<Path> paths(bool simd_fits) {
  std::vector<Path> out = {Path::best, Path::portable};
  if (simd_fits) out.push_back(Path::simd);
  return out;
}

const char* path_name(Path p) {
  return p == Path::best ? "best" : p == Path::portable ? "portable" : "simd";
}

void conv_forward(Path p, const ConvGeometry& g, const float* x, const float* w, const float* b, Activation act,
                  float* y, Workspace& ws) {
  if (p == Path::best) kernels::conv2d_forward(g, x, w, b, act, y, ws);
  if (p == Path::portable) kernels::portable::conv2d_forward(g, x, w, b, act, y, ws);
  if (p == Path::simd) kernels::simd::conv2d_forward(g, x, w, b, act, y, ws);
}

void conv_backward_data(Path p, const ConvGeometry& g, const float* dy, const float* w, const float* b,
                        Activation act, float* dx, Workspace& ws) {
  if (p == Path::best) kernels::conv2d_backward_data(g, dy, w, b, act, dx, ws);
  if (p == Path::portable) kernels::portable::conv2d_backward_data(g, dy, w, b, act, dx, ws);
  if (p == Path::simd) kernels::simd::conv2d_backward_data(g, dy, w, b, act, dx, ws);
}

void conv_backward_weights(Path p, const ConvGeometry& g, const float* x, const float* dy, float* dw, float* db,
                           Workspace& ws) {
  if (p == Path::best) kernels::conv2d_backward_weights(g, x, dy, dw, db, ws);
  if (p == Path::portable) kernels::portable::conv2d_backward_weights(g, x, dy, dw, db, ws);
  if (p == Path::simd) kernels::simd::conv2d_backward_weights(g, x, dy, dw, db, ws);
}

// --- many channels: more than 16 in or out (the classifiers' layers) ---

// Dense layers are 1x1 convolutions over N pixels of 1x1 (H = W = 1, C inputs, O units).
const ConvCase kWideCases[] = {
    {3, 28, 28, 1, 32, 5, 5, 1, 1, Padding::valid, Activation::relu},  // classifier-large conv 1
    {1, 12, 12, 32, 64, 3, 3, 1, 1, Padding::same, Activation::relu},  // classifier-large conv 2
    {1, 12, 12, 64, 64, 3, 3, 1, 1, Padding::valid, Activation::relu},  // classifier-large conv 3
    {1, 24, 24, 32, 32, 3, 3, 1, 1, Padding::same, Activation::relu},   // classifier-deep conv 2
    {2, 6, 6, 64, 128, 3, 3, 1, 1, Padding::same, Activation::relu},    // classifier-deep conv 5
    {1, 6, 6, 128, 128, 3, 3, 1, 1, Padding::valid, Activation::relu},  // classifier-deep conv 6
    {3, 1, 1, 2048, 256, 1, 1, 1, 1, Padding::valid, Activation::relu}, // classifier-deep dense
    {2, 28, 28, 1, 32, 3, 3, 1, 1, Padding::valid, Activation::linear},  // classifier conv 1
    {2, 13, 13, 32, 64, 3, 3, 1, 1, Padding::valid, Activation::relu},  // classifier conv 2
    {5, 1, 1, 1600, 256, 1, 1, 1, 1, Padding::valid, Activation::relu},  // classifier-large dense
    {7, 1, 1, 256, 10, 1, 1, 1, 1, Padding::valid, Activation::softmax},
    {3, 1, 1, 1600, 10, 1, 1, 1, 1, Padding::valid, Activation::softmax},  // classifier dense
    {2, 1, 1, 9216, 128, 1, 1, 1, 1, Padding::valid, Activation::relu},  // Keras's mnist_cnn dense: long sums
    // Odd sizes and group counts: O = 17, 40 and 70 end in part of a group (in one pass
    // or the last of several); O = 5 overruns several pixels; O = 70 and 90 take uneven passes.
    {2, 9, 7, 17, 17, 3, 3, 1, 1, Padding::same, Activation::sigmoid},
    {3, 11, 9, 24, 40, 3, 3, 2, 2, Padding::same, Activation::tanh},
    {2, 10, 9, 3, 17, 3, 2, 2, 1, Padding::valid, Activation::relu},
    {2, 8, 11, 64, 5, 3, 3, 2, 2, Padding::valid, Activation::linear},
    {2, 9, 9, 20, 70, 3, 3, 1, 1, Padding::same, Activation::relu},
    {5, 1, 1, 33, 90, 1, 1, 1, 1, Padding::valid, Activation::relu},
    {1, 7, 10, 33, 18, 4, 4, 3, 3, Padding::same, Activation::relu},  // stride 3, even kernel
    {2, 9, 10, 17, 48, 5, 3, 1, 2, Padding::same, Activation::softmax},
    {2, 7, 8, 17, 20, 1, 1, 2, 2, Padding::same, Activation::relu},  // 1x1 but strided: not pointwise
    {3, 9, 13, 20, 33, 1, 1, 1, 1, Padding::valid, Activation::relu},  // pointwise over images
    {33, 1, 1, 17, 256, 1, 1, 1, 1, Padding::valid, Activation::linear},  // several passes
    {100, 1, 1, 1600, 24, 1, 1, 1, 1, Padding::valid, Activation::relu},  // several chunks
    {9, 1, 1, 40, 40, 1, 1, 1, 1, Padding::valid, Activation::tanh},
    // Stride 1 with even and non-square kernels: the flipped convolution of backward-data
    // pads unevenly (a "same" 4x4 kernel: 1 row before, 2 after; flipped: 2 before, 1 after).
    {2, 8, 7, 20, 18, 4, 4, 1, 1, Padding::same, Activation::relu},
    {2, 6, 9, 17, 33, 2, 3, 1, 1, Padding::valid, Activation::linear},
    {1, 5, 4, 48, 24, 3, 3, 1, 1, Padding::same, Activation::relu},  // the U-Nets' 48 -> 24
    // Strided backward-data by phases: the U-Nets' stride-2 transposed convolutions seen
    // as the convolutions they are the backward of, then uneven phases (5x5 kernels,
    // strides 2 and 3 on different axes, odd sizes).
    {2, 14, 14, 24, 48, 3, 3, 2, 2, Padding::same, Activation::relu},
    {1, 14, 14, 16, 32, 3, 3, 2, 2, Padding::same, Activation::relu},
    {2, 13, 12, 20, 18, 5, 5, 2, 2, Padding::valid, Activation::linear},
    {2, 11, 10, 18, 20, 5, 4, 3, 2, Padding::same, Activation::sigmoid},
    // 3x3 stride 1 with 16 channels or more runs Winograd (the cases above with such shapes
    // too): the fewest channels it takes, and products over more channels than one slice of k.
    {2, 6, 7, 16, 17, 3, 3, 1, 1, Padding::valid, Activation::linear},
    {1, 5, 6, 520, 20, 3, 3, 1, 1, Padding::same, Activation::relu},
};

// Every shape the backward tests run: the few-channel table, then the wide one.
std::vector<ConvCase> all_conv_cases() {
  std::vector<ConvCase> all(std::begin(kConvCases), std::end(kConvCases));
  all.insert(all.end(), std::begin(kWideCases), std::end(kWideCases));
  return all;
}

TEST_P(ConvKernels, ForwardMatchesReference) {
  Workspace ws;
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(describe(c));
    const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
    const auto x = random_floats(g.input_size(), 10);
    const auto w = random_floats(g.patch() * g.O, 11);
    const auto b = random_floats(g.O, 12);
    std::vector<float> y_ref(g.output_size());
    reference::conv2d_forward(g, x.data(), w.data(), b.data(), c.act, y_ref.data());
    for (Path p : paths(kernels::simd::forward_fits(g))) {
      SCOPED_TRACE(path_name(p));
      std::vector<float> y(g.output_size(), 3.0f);
      conv_forward(p, g, x.data(), w.data(), b.data(), c.act, y.data(), ws);
      EXPECT_LE(max_rel_error(y, y_ref), tolerance(c));
    }
  }
}

TEST_P(ConvKernels, BackwardDataMatchesReference) {
  Workspace ws;
  for (const ConvCase& c : all_conv_cases()) {
    SCOPED_TRACE(describe(c));
    const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
    const auto dy = random_floats(g.output_size(), 20);
    const auto w = random_floats(g.patch() * g.O, 21);
    std::vector<float> dx_ref(g.input_size());
    reference::conv2d_backward_data(g, dy.data(), w.data(), dx_ref.data());
    for (Path p : paths(kernels::simd::backward_data_fits(g))) {
      SCOPED_TRACE(path_name(p));
      std::vector<float> dx(g.input_size(), 7.0f);
      conv_backward_data(p, g, dy.data(), w.data(), nullptr, Activation::linear, dx.data(), ws);
      EXPECT_LE(max_rel_error(dx, dx_ref), tolerance(c));
    }
  }
}

TEST_P(ConvKernels, BackwardWeightsAddsAndMatchesReference) {
  Workspace ws;
  for (const ConvCase& c : all_conv_cases()) {
    SCOPED_TRACE(describe(c));
    const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
    const auto x = random_floats(g.input_size(), 30);
    const auto dy = random_floats(g.output_size(), 31);
    // Start from non-zero grads: the kernel must add to them.
    const std::vector<float> dw0 = random_floats(g.patch() * g.O, 32), db0 = random_floats(g.O, 33);
    std::vector<float> dw_ref = dw0, db_ref = db0;
    reference::conv2d_backward_weights(g, x.data(), dy.data(), dw_ref.data(), db_ref.data());
    for (Path p : paths(kernels::simd::backward_weights_fits(g))) {
      SCOPED_TRACE(path_name(p));
      std::vector<float> dw = dw0, db = db0;
      conv_backward_weights(p, g, x.data(), dy.data(), dw.data(), db.data(), ws);
      EXPECT_LE(max_rel_error(dw, dw_ref), kTol);
      EXPECT_LE(max_rel_error(db, db_ref), kTol);
    }
  }
}

TEST_P(ConvKernels, WideForwardMatchesReference) {
  Workspace ws;
  for (const ConvCase& c : kWideCases) {
    SCOPED_TRACE(describe(c));
    const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
    ASSERT_TRUE(kernels::simd::wide_forward_fits(g));
    ASSERT_FALSE(kernels::simd::forward_fits(g));
    const auto x = random_floats(g.input_size(), 13);
    // Glorot-range weights: outputs of order one however long the sums (as in the Dense test).
    const double limit = std::sqrt(6.0 / (g.patch() + g.O));
    const auto w = random_floats(g.patch() * g.O, 14, -limit, limit);
    const auto b = random_floats(g.O, 15);
    std::vector<float> y_ref(g.output_size());
    reference::conv2d_forward(g, x.data(), w.data(), b.data(), c.act, y_ref.data());
    for (bool wide : {false, true}) {
      SCOPED_TRACE(wide ? "wide" : "best");
      std::vector<float> y(g.output_size(), 3.0f);
      if (wide)
        kernels::simd::conv2d_forward_wide(g, x.data(), w.data(), b.data(), c.act, y.data(), ws);
      else
        kernels::conv2d_forward(g, x.data(), w.data(), b.data(), c.act, y.data(), ws);
      EXPECT_LE(max_rel_error(y, y_ref), tolerance(c));
    }
  }
  // No bias.
  const ConvGeometry g = conv_geometry(2, 6, 5, 20, 24, 3, 3, 1, 1, Padding::same);
  const auto x = random_floats(g.input_size(), 16);
  const auto w = random_floats(g.patch() * g.O, 17);
  std::vector<float> y(g.output_size()), y_ref(g.output_size());
  reference::conv2d_forward(g, x.data(), w.data(), nullptr, Activation::relu, y_ref.data());
  kernels::conv2d_forward(g, x.data(), w.data(), nullptr, Activation::relu, y.data(), ws);
  EXPECT_LE(max_rel_error(y, y_ref), kTol);
}

// --- transposed convolution: the conv kernels with roles swapped vs its own definition ---

struct TransposeCase {
  int N, IH, IW, CI, CO, KH, KW, sh, sw;
  Padding padding;
  Activation act;
};

const TransposeCase kTransposeCases[] = {
    {2, 14, 14, 14, 12, 3, 3, 2, 2, Padding::same, Activation::relu},  // seed decoder 1
    {3, 28, 28, 12, 1, 3, 3, 1, 1, Padding::same, Activation::sigmoid},  // seed decoder 2
    {33, 4, 3, 14, 1, 5, 5, 2, 2, Padding::valid, Activation::tanh},
    {1, 7, 5, 1, 14, 3, 3, 2, 2, Padding::same, Activation::softmax},
    {5, 3, 4, 3, 2, 1, 1, 2, 2, Padding::valid, Activation::linear},  // k < stride: rows only bias reaches
    {2, 5, 5, 6, 4, 3, 3, 3, 3, Padding::same, Activation::relu},
    {1, 9, 9, 1, 1, 5, 5, 1, 1, Padding::valid, Activation::linear},
    {4, 5, 7, 2, 3, 4, 4, 2, 2, Padding::same, Activation::linear},  // even kernel: pad 1 before, 1 after
    {33, 9, 9, 14, 14, 3, 3, 2, 1, Padding::same, Activation::relu},
    // Winograd per phase (3x3, stride 2, nothing padded before): odd sizes that cut tiles
    // at the edge (valid: 2n+1 rows), rows of more tiles than one pass holds, the fewest
    // channels it takes.
    {2, 7, 5, 9, 13, 3, 3, 2, 2, Padding::valid, Activation::tanh},
    {1, 3, 30, 4, 4, 3, 3, 2, 2, Padding::same, Activation::linear},
    {3, 5, 6, 16, 16, 3, 3, 2, 2, Padding::same, Activation::relu},
    // More than 16 channels: the wide kernels phase by phase (the U-Nets' upsampling, an
    // activation that waits for every phase, odd sizes, a 5x5 kernel's uneven phases).
    {2, 7, 7, 64, 32, 3, 3, 2, 2, Padding::same, Activation::relu},
    {2, 5, 6, 48, 24, 3, 3, 2, 2, Padding::same, Activation::sigmoid},
    {1, 4, 5, 20, 33, 3, 3, 2, 2, Padding::valid, Activation::linear},
    {2, 3, 4, 17, 6, 5, 5, 2, 2, Padding::same, Activation::tanh},
};

// The transposed shape from Keras's rules, worked out here without the conv geometry code.
reference::TransposeShape keras_transpose_shape(const TransposeCase& c) {
  auto out = [&](int in, int k, int s) { return c.padding == Padding::same ? in * s : in * s + std::max(k - s, 0); };
  auto pad = [&](int k, int s) { return c.padding == Padding::same ? std::max(k - s, 0) / 2 : 0; };
  return {c.N,   c.IH,  c.IW, c.CI, out(c.IH, c.KH, c.sh), out(c.IW, c.KW, c.sw), c.CO, c.KH, c.KW, c.sh, c.sw,
          pad(c.KH, c.sh), pad(c.KW, c.sw)};
}

TEST_P(ConvTransposeKernels, ConvRolesSwappedMatchTransposeReference) {
  Workspace ws;
  for (const TransposeCase& c : kTransposeCases) {
    const reference::TransposeShape t = keras_transpose_shape(c);
    SCOPED_TRACE(fmt::format("N{} {}x{}x{} -> {}x{}x{} k{}x{} s{}x{} {} {}", c.N, c.IH, c.IW, c.CI, t.OH, t.OW,
                             c.CO, c.KH, c.KW, c.sh, c.sw, padding_name(c.padding), act_name(c.act)));
    const ConvGeometry g =
        conv_transpose_geometry(c.N, c.IH, c.IW, c.CI, c.CO, c.KH, c.KW, c.sh, c.sw, c.padding);
    ASSERT_EQ(g.H, t.OH);
    ASSERT_EQ(g.W, t.OW);
    ASSERT_EQ(g.pad_top, t.pad_top);
    ASSERT_EQ(g.pad_left, t.pad_left);
    const std::size_t in_size = std::size_t(c.N) * c.IH * c.IW * c.CI;
    const std::size_t out_size = std::size_t(c.N) * t.OH * t.OW * c.CO;
    const std::size_t out_rows = out_size / c.CO;
    const auto x = random_floats(in_size, 40);
    const auto k = random_floats(std::size_t(c.KH) * c.KW * c.CO * c.CI, 41);
    const auto b = random_floats(c.CO, 42);

    const auto dz = random_floats(out_size, 43);
    std::vector<float> y_ref(out_size), dx_ref(in_size);
    std::vector<float> dk_ref = random_floats(k.size(), 44), db_ref = random_floats(c.CO, 45);
    const std::vector<float> dk0 = dk_ref, db0 = db_ref;
    reference::conv2d_transpose_forward(t, x.data(), k.data(), b.data(), c.act, y_ref.data());
    reference::conv2d_transpose_backward_data(t, dz.data(), k.data(), dx_ref.data());
    reference::conv2d_transpose_backward_weights(t, x.data(), dz.data(), dk_ref.data(), db_ref.data());

    // forward = conv backward-data with bias and activation fused
    for (Path p : paths(kernels::simd::backward_data_fits(g))) {
      std::vector<float> y(out_size, 3.0f);
      conv_backward_data(p, g, x.data(), k.data(), b.data(), c.act, y.data(), ws);
      EXPECT_LE(max_rel_error(y, y_ref), kTol) << "forward, " << path_name(p);
    }
    // dx = conv forward of dz
    for (Path p : paths(kernels::simd::forward_fits(g))) {
      std::vector<float> dx(in_size);
      conv_forward(p, g, dz.data(), k.data(), nullptr, Activation::linear, dx.data(), ws);
      EXPECT_LE(max_rel_error(dx, dx_ref), kTol) << "backward data, " << path_name(p);
    }
    // dK = conv backward-weights with dz as the input and x as the output gradient
    for (Path p : paths(kernels::simd::backward_weights_fits(g))) {
      std::vector<float> dk = dk0, db = db0;
      conv_backward_weights(p, g, dz.data(), x.data(), dk.data(), nullptr, ws);
      kernels::add_channel_sums(dz.data(), out_rows, c.CO, db.data());
      EXPECT_LE(max_rel_error(dk, dk_ref), kTol) << "backward weights, " << path_name(p);
      EXPECT_LE(max_rel_error(db, db_ref), kTol) << "backward bias, " << path_name(p);
    }
  }
}

// --- whole layer backwards: dz = act'(y) * dy, then dx, dw and dbias in one call ---

// dx through the derivative of the ReLU that made x (relu_dx): the reference's dx, zero
// where x is not positive.
std::vector<float> through_relu(const std::vector<float>& x, std::vector<float> dx, int channels) {
  reference::activation_backward(Activation::relu, x.data(), dx.data(), dx.data(), x.size() / channels, channels);
  return dx;
}

enum class Dx { none, plain, through_relu };

TEST_P(ConvKernels, LayerBackwardMatchesReference) {
  Workspace ws;
  for (const ConvCase& c : all_conv_cases()) {
    for (Dx want : {Dx::plain, Dx::none, Dx::through_relu}) {
      const bool with_dx = want != Dx::none, relu_dx = want == Dx::through_relu;
      SCOPED_TRACE(describe(c) + (with_dx ? "" : ", no dx") + (relu_dx ? ", dx through relu" : ""));
      const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
      const auto x = random_floats(g.input_size(), 80);
      // Glorot-range weights: softmax's outputs stay away from saturation for long sums.
      const double limit = std::sqrt(6.0 / (g.patch() + g.O));
      const auto w = random_floats(g.patch() * g.O, 81, -limit, limit);
      const auto b = random_floats(g.O, 82);
      const auto dy = random_floats(g.output_size(), 83);
      std::vector<float> y(g.output_size()), dz(g.output_size()), dx_ref(g.input_size());
      reference::conv2d_forward(g, x.data(), w.data(), b.data(), c.act, y.data());
      reference::activation_backward(c.act, y.data(), dy.data(), dz.data(), g.rows(), g.O);
      reference::conv2d_backward_data(g, dz.data(), w.data(), dx_ref.data());
      if (relu_dx) dx_ref = through_relu(x, dx_ref, g.C);
      const std::vector<float> dw0 = random_floats(w.size(), 84), db0 = random_floats(g.O, 85);
      std::vector<float> dw_ref = dw0, db_ref = db0;
      reference::conv2d_backward_weights(g, x.data(), dz.data(), dw_ref.data(), db_ref.data());
      for (bool simd : {false, true}) {
        if (simd && !(kernels::simd::conv_layer_backward_fits(g, with_dx)))
          continue;
        SCOPED_TRACE(simd ? "simd" : "best");
        std::vector<float> dx(g.input_size(), 9.0f), dw = dw0, db = db0, scratch(g.output_size());
        float* dx_out = with_dx ? dx.data() : nullptr;
        if (simd)
          kernels::simd::conv_layer_backward(g, x.data(), y.data(), dy.data(), c.act, w.data(), dx_out, relu_dx,
                                             dw.data(), db.data(), ws);
        else
          kernels::conv_layer_backward(g, x.data(), y.data(), dy.data(), c.act, w.data(), dx_out, relu_dx,
                                       dw.data(), db.data(), scratch.data(), ws);
        if (with_dx) {
          EXPECT_LE(max_rel_error(dx, dx_ref), tolerance(c)) << "dx";
        }
        EXPECT_LE(max_rel_error(dw, dw_ref), kTol) << "dw";
        EXPECT_LE(max_rel_error(db, db_ref), kTol) << "dbias";
      }
    }
  }
}

TEST_P(ConvTransposeKernels, LayerBackwardMatchesReference) {
  Workspace ws;
  for (const TransposeCase& c : kTransposeCases) {
    for (Dx want : {Dx::plain, Dx::none, Dx::through_relu}) {
      const bool with_dx = want != Dx::none, relu_dx = want == Dx::through_relu;
      const reference::TransposeShape t = keras_transpose_shape(c);
      SCOPED_TRACE(fmt::format("N{} {}x{}x{} -> {}x{}x{} k{}x{} s{}x{} {} {}{}{}", c.N, c.IH, c.IW, c.CI, t.OH,
                               t.OW, c.CO, c.KH, c.KW, c.sh, c.sw, padding_name(c.padding), act_name(c.act),
                               with_dx ? "" : ", no dx", relu_dx ? ", dx through relu" : ""));
      const ConvGeometry g =
          conv_transpose_geometry(c.N, c.IH, c.IW, c.CI, c.CO, c.KH, c.KW, c.sh, c.sw, c.padding);
      const std::size_t in_size = std::size_t(c.N) * c.IH * c.IW * c.CI;
      const std::size_t out_size = std::size_t(c.N) * t.OH * t.OW * c.CO;
      const auto x = random_floats(in_size, 90);
      const auto k = random_floats(std::size_t(c.KH) * c.KW * c.CO * c.CI, 91);
      const auto b = random_floats(c.CO, 92);
      const auto dy = random_floats(out_size, 93);
      std::vector<float> y(out_size), dz(out_size), dx_ref(in_size);
      reference::conv2d_transpose_forward(t, x.data(), k.data(), b.data(), c.act, y.data());
      reference::activation_backward(c.act, y.data(), dy.data(), dz.data(), out_size / c.CO, c.CO);
      reference::conv2d_transpose_backward_data(t, dz.data(), k.data(), dx_ref.data());
      if (relu_dx) dx_ref = through_relu(x, dx_ref, c.CI);
      const std::vector<float> dk0 = random_floats(k.size(), 94), db0 = random_floats(c.CO, 95);
      std::vector<float> dk_ref = dk0, db_ref = db0;
      reference::conv2d_transpose_backward_weights(t, x.data(), dz.data(), dk_ref.data(), db_ref.data());
      for (bool simd : {false, true}) {
        if (simd &&
            !(kernels::simd::conv_transpose_layer_backward_fits(g, with_dx)))
          continue;
        SCOPED_TRACE(simd ? "simd" : "best");
        std::vector<float> dx(in_size, 9.0f), dk = dk0, db = db0, scratch(out_size);
        float* dx_out = with_dx ? dx.data() : nullptr;
        if (simd)
          kernels::simd::conv_transpose_layer_backward(g, x.data(), y.data(), dy.data(), c.act, k.data(), dx_out,
                                                       relu_dx, dk.data(), db.data(), ws);
        else
          kernels::conv_transpose_layer_backward(g, x.data(), y.data(), dy.data(), c.act, k.data(), dx_out,
                                                 relu_dx, dk.data(), db.data(), scratch.data(), ws);
        if (with_dx) {
          EXPECT_LE(max_rel_error(dx, dx_ref), kTol) << "dx";
        }
        EXPECT_LE(max_rel_error(dk, dk_ref), kTol) << "dk";
        EXPECT_LE(max_rel_error(db, db_ref), kTol) << "dbias";
      }
    }
  }
}

// --- dense (the 1x1 convolution over rows) ---

TEST_P(DenseKernels, OneByOneConvMatchesDenseReference) {
  Workspace ws;
  for (int rows : {1, 33, 300}) {
    for (auto [in, out] : {std::pair{1, 1}, {14, 10}, {784, 14}, {3, 128}}) {
      for (Activation act : {Activation::linear, Activation::softmax, Activation::relu}) {
        SCOPED_TRACE(fmt::format("{} rows {} -> {} {}", rows, in, out, act_name(act)));
        const ConvGeometry g = conv_geometry(rows, 1, 1, in, out, 1, 1, 1, 1, Padding::valid);
        const auto x = random_floats(std::size_t(rows) * in, 50);
        // Glorot-range weights, as layers start with: logits of order one. (Softmax turns
        // the absolute error of its logits into relative error of its outputs.)
        const double limit = std::sqrt(6.0 / (in + out));
        const auto w = random_floats(std::size_t(in) * out, 51, -limit, limit);
        const auto b = random_floats(out, 52);
        std::vector<float> y(std::size_t(rows) * out), y_ref(y.size());
        kernels::conv2d_forward(g, x.data(), w.data(), b.data(), act, y.data(), ws);
        reference::dense_forward(rows, in, out, x.data(), w.data(), b.data(), act, y_ref.data());
        EXPECT_LE(max_rel_error(y, y_ref), kTol);

        const auto dz = random_floats(y.size(), 53);
        std::vector<float> dx(x.size()), dx_ref(x.size());
        kernels::conv2d_backward_data(g, dz.data(), w.data(), nullptr, Activation::linear, dx.data(), ws);
        reference::dense_backward_data(rows, in, out, dz.data(), w.data(), dx_ref.data());
        EXPECT_LE(max_rel_error(dx, dx_ref), kTol);

        std::vector<float> dw(w.size(), 0.5f), db(out, -0.5f), dw_ref = dw, db_ref = db;
        kernels::conv2d_backward_weights(g, x.data(), dz.data(), dw.data(), db.data(), ws);
        reference::dense_backward_weights(rows, in, out, x.data(), dz.data(), dw_ref.data(), db_ref.data());
        EXPECT_LE(max_rel_error(dw, dw_ref), kTol);
        EXPECT_LE(max_rel_error(db, db_ref), kTol);
      }
    }
  }
}

// --- max pooling ---

struct PoolCase {
  int N, H, W, C, pool, stride;
  Padding padding;
};

TEST_P(PoolKernels, MatchReferenceIncludingTies) {
  const PoolCase cases[] = {
      {33, 28, 28, 12, 2, 2, Padding::valid}, {1, 7, 5, 1, 2, 2, Padding::valid},
      {2, 9, 9, 14, 3, 2, Padding::same},     {3, 7, 5, 14, 3, 3, Padding::valid},
      {2, 5, 7, 3, 2, 1, Padding::valid},     {4, 7, 9, 2, 2, 2, Padding::same},
      {2, 8, 9, 16, 2, 3, Padding::valid},    {2, 6, 6, 20, 2, 2, Padding::valid},  // gaps; too many channels for one vector
      {3, 24, 24, 32, 2, 2, Padding::valid},  {2, 10, 10, 64, 2, 2, Padding::valid},  // classifier-large
      {2, 9, 9, 40, 3, 2, Padding::same},     {2, 8, 6, 17, 2, 2, Padding::valid},    // a partial last group
      {3, 4, 6, 1, 2, 2, Padding::valid},     {2, 6, 4, 16, 2, 2, Padding::valid},    // 2x2 windows tiling the image
      {3, 2, 2, 5, 2, 2, Padding::valid},     {2, 6, 8, 14, 2, 2, Padding::same},
  };
  for (const PoolCase& c : cases) {
    // relu: x came out of a ReLU (windows of zeros tie) whose derivative the pooling's
    // backward takes over, given its y.
    for (auto [ties, relu] : {std::pair{false, false}, {true, false}, {false, true}}) {
      SCOPED_TRACE(fmt::format("N{} {}x{}x{} pool {} stride {} {}{}{}", c.N, c.H, c.W, c.C, c.pool, c.stride,
                               padding_name(c.padding), ties ? " ties" : "", relu ? " after relu" : ""));
      const ConvGeometry g = pool_geometry(c.N, c.H, c.W, c.C, c.pool, c.pool, c.stride, c.stride, c.padding);
      auto x = random_floats(g.input_size(), 60, -1.0, 1.0);
      if (ties)  // few distinct values, so most windows hold several maxima
        for (float& v : x) v = std::floor(v * 2.0f);
      if (relu)
        for (float& v : x) v = std::max(v, 0.0f);
      std::vector<float> y_ref(g.output_size()), dx_ref(g.input_size());
      reference::maxpool_forward(g, x.data(), y_ref.data());
      const auto dy = random_floats(g.output_size(), 61);
      reference::maxpool_backward(g, x.data(), dy.data(), dx_ref.data());
      if (relu) dx_ref = through_relu(x, dx_ref, g.C);
      for (Path p : paths(kernels::simd::pool_fits(g))) {
        SCOPED_TRACE(path_name(p));
        std::vector<float> y(g.output_size()), dx(g.input_size(), 5.0f);
        std::vector<std::uint16_t> where(g.output_size());
        if (p == Path::best) kernels::maxpool_forward(g, x.data(), y.data(), where.data());
        if (p == Path::portable) kernels::portable::maxpool_forward(g, x.data(), y.data(), where.data());
        if (p == Path::simd) kernels::simd::maxpool_forward(g, x.data(), y.data(), where.data());
        EXPECT_EQ(y, y_ref);
        std::vector<float> y_inference(g.output_size(), 9.0f);  // no winning taps recorded
        if (p == Path::best) kernels::maxpool_forward(g, x.data(), y_inference.data(), nullptr);
        if (p == Path::portable) kernels::portable::maxpool_forward(g, x.data(), y_inference.data(), nullptr);
        if (p == Path::simd) kernels::simd::maxpool_forward(g, x.data(), y_inference.data(), nullptr);
        EXPECT_EQ(y_inference, y_ref);
        const float* relu_y = relu ? y.data() : nullptr;
        if (p == Path::best) kernels::maxpool_backward(g, where.data(), dy.data(), relu_y, dx.data());
        if (p == Path::portable) kernels::portable::maxpool_backward(g, where.data(), dy.data(), relu_y, dx.data());
        if (p == Path::simd) kernels::simd::maxpool_backward(g, where.data(), dy.data(), relu_y, dx.data());
        EXPECT_LE(max_rel_error(dx, dx_ref), kTol);
      }
    }
  }
}

// A NaN first in its window stays (a diverging run stays visible); a NaN after a number
// loses the strict comparison. Recording the winning taps or not changes no bit.
TEST_P(PoolKernels, NaNFollowsTheComparisonWithAndWithoutTaps) {
  const ConvGeometry g = pool_geometry(1, 2, 4, 12, 2, 2, 2, 2, Padding::valid);
  auto x = random_floats(g.input_size(), 62, -1.0, 1.0);
  for (int c = 0; c < 12; ++c) {
    x[c] = NAN;                     // window 0, first tap
    x[(1 * 4 + 3) * 12 + c] = NAN;  // window 1, last tap
  }
  std::vector<float> y_ref;  // the first path's, with taps
  for (Path p : paths(kernels::simd::pool_fits(g))) {
    SCOPED_TRACE(path_name(p));
    std::vector<std::uint16_t> where(g.output_size());
    for (std::uint16_t* w : {where.data(), static_cast<std::uint16_t*>(nullptr)}) {
      std::vector<float> y(g.output_size());
      if (p == Path::best) kernels::maxpool_forward(g, x.data(), y.data(), w);
      if (p == Path::portable) kernels::portable::maxpool_forward(g, x.data(), y.data(), w);
      if (p == Path::simd) kernels::simd::maxpool_forward(g, x.data(), y.data(), w);
      for (int c = 0; c < 12; ++c) {
        EXPECT_TRUE(std::isnan(y[c])) << c;
        EXPECT_FALSE(std::isnan(y[12 + c])) << c;
      }
      if (y_ref.empty()) y_ref = y;
      EXPECT_EQ(0, std::memcmp(y.data(), y_ref.data(), y.size() * sizeof(float)));
    }
  }
}

// A convolution with its 2x2 pooling in one pass: bit for bit the two kernels one after
// the other, a NaN in the input and ties included, and (in training) the same winning taps.
TEST_P(ConvKernels, ForwardWithMaxPoolIsConvThenPoolBitForBit) {
  const ConvCase cases[] = {
      {5, 28, 28, 1, 12, 3, 3, 1, 1, Padding::same, Activation::relu},  // seed conv 1
      {2, 10, 12, 3, 16, 3, 3, 1, 1, Padding::valid, Activation::linear},
      {3, 16, 31, 2, 5, 2, 3, 2, 2, Padding::same, Activation::relu},  // stride 2: 8x16 out
      {1, 6, 34, 1, 7, 3, 3, 1, 1, Padding::same, Activation::relu},   // 17 pooled: blocks of 7 (3 on AVX2) and fewer
  };
  Workspace ws;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(describe(c));
    const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
    if (!kernels::conv2d_maxpool_fits(g, c.act)) {
      ADD_FAILURE() << "the SIMD kernels should cover this shape";
      continue;
    }
    auto x = random_floats(g.input_size(), 80);
    x[3] = NAN;
    for (std::size_t i = 0; i < x.size(); i += 7) x[i] = 0.0f;  // windows that tie
    const auto w = random_floats(g.patch() * g.O, 81);
    const auto b = random_floats(g.O, 82);
    std::vector<float> conv(g.output_size());
    kernels::conv2d_forward(g, x.data(), w.data(), b.data(), c.act, conv.data(), ws);
    const ConvGeometry pg = pool_geometry(g.N, g.OH, g.OW, g.O, 2, 2, 2, 2, Padding::valid);
    std::vector<float> expected(pg.output_size()), fused(pg.output_size(), 7.0f), trained(fused);
    std::vector<std::uint16_t> where(pg.output_size()), fused_where(pg.output_size(), 9);
    kernels::maxpool_forward(pg, conv.data(), expected.data(), where.data());
    kernels::conv2d_forward_maxpool(g, x.data(), w.data(), b.data(), c.act, fused.data(), nullptr, ws);
    EXPECT_EQ(0, std::memcmp(fused.data(), expected.data(), fused.size() * sizeof(float)));
    kernels::conv2d_forward_maxpool(g, x.data(), w.data(), b.data(), c.act, trained.data(), fused_where.data(), ws);
    EXPECT_EQ(0, std::memcmp(trained.data(), expected.data(), trained.size() * sizeof(float)));
    EXPECT_EQ(fused_where, where);
    EXPECT_GT(std::count(where.begin(), where.end(), std::uint16_t{3}), 0);
    EXPECT_TRUE(std::any_of(fused.begin(), fused.end(), [](float v) { return std::isnan(v); }));
  }
  // What it leaves to the separate kernels: odd output sizes, unfused activations.
  EXPECT_FALSE(kernels::conv2d_maxpool_fits(conv_geometry(1, 7, 8, 1, 4, 3, 3, 1, 1, Padding::same), Activation::relu));
  EXPECT_FALSE(
      kernels::conv2d_maxpool_fits(conv_geometry(1, 8, 8, 1, 4, 3, 3, 1, 1, Padding::same), Activation::sigmoid));
}

// Its backward in one pass: the pooling's gradient routed back sample by sample inside
// the convolution's backward gives the bits of the two backwards one after the other
// (with and without the ReLU's derivative taken at the pooling, with and without dx).
TEST_P(ConvKernels, BackwardThroughMaxPoolIsPoolThenConvBitForBit) {
  const ConvCase cases[] = {
      {5, 28, 28, 1, 12, 3, 3, 1, 1, Padding::same, Activation::relu},  // seed conv 1
      {2, 10, 12, 3, 16, 3, 3, 1, 1, Padding::valid, Activation::relu},
      {3, 16, 31, 2, 5, 2, 3, 2, 2, Padding::same, Activation::relu},  // stride 2: 8x16 out
      {2, 12, 8, 6, 14, 3, 3, 1, 1, Padding::same, Activation::linear},  // Winograd weight gradient
  };
  Workspace ws;
  for (const ConvCase& c : cases) {
    for (bool relu_at_pool : {true, false}) {
      for (bool with_dx : {true, false}) {
        SCOPED_TRACE(describe(c) + (relu_at_pool ? ", relu at the pooling" : "") + (with_dx ? "" : ", no dx"));
        const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
        if (!kernels::conv_maxpool_layer_backward_fits(g, with_dx)) {
          ADD_FAILURE() << "the SIMD kernels should cover this shape";
          continue;
        }
        const auto x = random_floats(g.input_size(), 90);
        const auto w = random_floats(g.patch() * g.O, 91);
        const auto b = random_floats(g.O, 92);
        std::vector<float> y(g.output_size());
        kernels::conv2d_forward(g, x.data(), w.data(), b.data(), c.act, y.data(), ws);
        const ConvGeometry pg = pool_geometry(g.N, g.OH, g.OW, g.O, 2, 2, 2, 2, Padding::valid);
        std::vector<float> pooled(pg.output_size());
        std::vector<std::uint16_t> where(pg.output_size());
        kernels::maxpool_forward(pg, y.data(), pooled.data(), where.data());
        const auto pooled_dy = random_floats(pg.output_size(), 93);
        const float* relu_y = relu_at_pool ? pooled.data() : nullptr;
        // The two backwards one after the other.
        std::vector<float> dy(g.output_size()), dx(g.input_size(), 9.0f), dw = random_floats(w.size(), 94),
            db = random_floats(g.O, 95), scratch(g.output_size());
        std::vector<float> dx1 = dx, dw1 = dw, db1 = db;
        kernels::maxpool_backward(pg, where.data(), pooled_dy.data(), relu_y, dy.data());
        kernels::conv_layer_backward(g, x.data(), y.data(), dy.data(), Activation::linear, w.data(),
                                     with_dx ? dx.data() : nullptr, true, dw.data(), db.data(), scratch.data(), ws);
        kernels::conv_maxpool_layer_backward(g, x.data(), where.data(), pooled_dy.data(), relu_y, w.data(),
                                             with_dx ? dx1.data() : nullptr, true, dw1.data(), db1.data(), ws);
        EXPECT_EQ(0, std::memcmp(dx1.data(), dx.data(), dx.size() * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(dw1.data(), dw.data(), dw.size() * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(db1.data(), db.data(), db.size() * sizeof(float)));
      }
    }
  }
  // What it leaves to the separate kernels: odd output sizes.
  EXPECT_FALSE(kernels::conv_maxpool_layer_backward_fits(conv_geometry(1, 7, 8, 1, 4, 3, 3, 1, 1, Padding::same), true));
}

// --- determinism ---

struct ThreadCount {
  explicit ThreadCount(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved); }
  int saved;
};

std::vector<std::vector<float>> run_all(const ConvGeometry& g, int threads) {
  ThreadCount tc(threads);
  Workspace ws;
  const auto x = random_floats(g.input_size(), 70);
  const auto w = random_floats(g.patch() * g.O, 71);
  const auto b = random_floats(g.O, 72);
  const auto b_in = random_floats(g.C, 74);  // a bias on the input side, as Conv2DTranspose has
  const auto dy = random_floats(g.output_size(), 73);
  std::vector<float> y(g.output_size()), dx(g.input_size()), dw(w.size()), db(g.O);
  kernels::conv2d_forward(g, x.data(), w.data(), b.data(), Activation::relu, y.data(), ws);
  kernels::conv2d_backward_data(g, dy.data(), w.data(), b_in.data(), Activation::sigmoid, dx.data(), ws);
  kernels::conv2d_backward_weights(g, x.data(), dy.data(), dw.data(), db.data(), ws);
  // The layer backwards, as a Conv2D (y from x) and as a Conv2DTranspose (dx from dy),
  // each with its dx through the derivative of a ReLU before it.
  std::vector<float> layer_dx(g.input_size()), layer_dw(w.size()), layer_db(g.O), scratch(g.output_size());
  kernels::conv_layer_backward(g, x.data(), y.data(), dy.data(), Activation::relu, w.data(), layer_dx.data(), true,
                               layer_dw.data(), layer_db.data(), scratch.data(), ws);
  std::vector<float> t_dy(g.output_size()), t_dw(w.size()), t_db(g.C), t_scratch(g.input_size());
  kernels::conv_transpose_layer_backward(g, dy.data(), dx.data(), x.data(), Activation::sigmoid, w.data(),
                                         t_dy.data(), true, t_dw.data(), t_db.data(), t_scratch.data(), ws);
  return {y, dx, dw, db, layer_dx, layer_dw, layer_db, t_dy, t_dw, t_db};
}

TEST_P(ConvKernels, BitIdenticalForAnyThreadCountAndRun) {
  for (const ConvGeometry& g : {conv_geometry(32, 28, 28, 1, 12, 3, 3, 1, 1, Padding::same),
                                conv_geometry(33, 14, 14, 14, 12, 3, 3, 2, 2, Padding::same),
                                conv_geometry(2, 23, 21, 14, 6, 5, 5, 1, 1, Padding::same),
                                conv_geometry(33, 14, 14, 12, 14, 3, 3, 1, 1, Padding::same),   // Winograd
                                conv_geometry(9, 28, 28, 1, 32, 5, 5, 1, 1, Padding::valid),    // slices of outputs
                                conv_geometry(9, 12, 12, 32, 64, 3, 3, 1, 1, Padding::same),    // wide
                                conv_geometry(9, 12, 12, 64, 40, 3, 3, 1, 1, Padding::valid)}) {  // wide, part group
    const auto one = run_all(g, 1);
    EXPECT_EQ(one, run_all(g, 1));
    EXPECT_EQ(one, run_all(g, 2));
    EXPECT_EQ(one, run_all(g, 3));
  }
}

// F(4x4, 3x3) where its tiles take fewer products than F(2x2)'s over the output, so
// that the tables above run it: the classifiers' 12x12 and 10x10 layers (10x10 in 3x3
// tiles of 4: 324 products against 400), the U-Nets' 28x28, 14x14 and 7x7 levels.
TEST(WideWinograd, TakesFourByFourTilesWhereTheyTakeFewerProducts) {
  auto tile = [](int H, int W, Padding padding) {
    return kernels::simd::wide_winograd_tile(conv_geometry(1, H, W, 32, 64, 3, 3, 1, 1, padding));
  };
  EXPECT_EQ(tile(12, 12, Padding::same), 4);
  EXPECT_EQ(tile(12, 12, Padding::valid), 4);  // 10x10
  EXPECT_EQ(tile(28, 28, Padding::same), 4);
  EXPECT_EQ(tile(14, 14, Padding::same), 4);
  EXPECT_EQ(tile(7, 7, Padding::same), 4);
  EXPECT_EQ(tile(5, 6, Padding::same), 2);  // 144 products either way
  EXPECT_EQ(tile(2, 2, Padding::same), 2);  // one tile of 36 against 16
  EXPECT_EQ(tile(6, 7, Padding::valid), 4);  // 4x5: 72 against 96
}

// The wide forward and backward-data: each sample's bits are the same alone (N = 1) as
// in a batch of 7, on 1, 2 or 3 threads (pointwise layers cut the batch's pixels into
// chunks and blocks); the weight gradient's on 1, 2 or 3 threads. The strided case's
// backward-data runs on OpenBLAS, whose kernel for the CPU at hand decides how its sums
// round (scripts/test.sh runs this table under each kernel the CPU can run).
TEST_P(ConvKernels, WideBitIdenticalForAnyBatchAndThreadCount) {
  const ConvCase cases[] = {
      {7, 13, 13, 32, 64, 3, 3, 1, 1, Padding::valid, Activation::relu},
      {7, 12, 12, 32, 64, 3, 3, 1, 1, Padding::same, Activation::relu},
      {7, 12, 12, 1, 32, 5, 5, 1, 1, Padding::valid, Activation::relu},
      {7, 9, 7, 20, 17, 3, 3, 2, 2, Padding::same, Activation::tanh},
      {7, 14, 14, 24, 48, 3, 3, 2, 2, Padding::same, Activation::relu},  // U-Net upsampling, by phases
      {7, 1, 1, 1600, 256, 1, 1, 1, 1, Padding::valid, Activation::relu},
      {7, 1, 1, 256, 10, 1, 1, 1, 1, Padding::valid, Activation::softmax},
      {7, 1, 1, 40, 40, 1, 1, 1, 1, Padding::valid, Activation::sigmoid},
      {70, 1, 1, 1600, 24, 1, 1, 1, 1, Padding::valid, Activation::linear},  // three chunks
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(describe(c));
    const ConvGeometry g = conv_geometry(c.N, c.H, c.W, c.C, c.O, c.KH, c.KW, c.sh, c.sw, c.padding);
    ASSERT_TRUE(kernels::simd::wide_forward_fits(g));
    const auto x = random_floats(g.input_size(), 77);
    const auto w = random_floats(g.patch() * g.O, 78, -0.1, 0.1);
    const auto b = random_floats(g.O, 79);
    // y of x, then dx with y as the output gradient.
    auto run = [&](const ConvGeometry& geometry, const float* input, int threads) {
      ThreadCount tc(threads);
      Workspace ws;
      std::vector<float> y(geometry.output_size()), dx(geometry.input_size());
      kernels::conv2d_forward(geometry, input, w.data(), b.data(), c.act, y.data(), ws);
      kernels::conv2d_backward_data(geometry, y.data(), w.data(), nullptr, Activation::linear, dx.data(), ws);
      return std::pair{y, dx};
    };
    const auto [y_all, dx_all] = run(g, x.data(), 1);
    for (int threads : {2, 3}) {
      const auto [y, dx] = run(g, x.data(), threads);
      EXPECT_EQ(0, std::memcmp(y.data(), y_all.data(), y.size() * sizeof(float))) << threads << " threads";
      EXPECT_EQ(0, std::memcmp(dx.data(), dx_all.data(), dx.size() * sizeof(float))) << threads << " threads";
    }
    // The weight gradient sums over the batch: the same bits for any thread count.
    auto weights = [&](int threads) {
      ThreadCount tc(threads);
      Workspace ws;
      std::vector<float> dw(g.patch() * g.O), db(g.O);
      kernels::conv2d_backward_weights(g, x.data(), y_all.data(), dw.data(), db.data(), ws);
      return std::pair{dw, db};
    };
    const auto [dw_one, db_one] = weights(1);
    for (int threads : {2, 3}) {
      const auto [dw, db] = weights(threads);
      EXPECT_EQ(0, std::memcmp(dw.data(), dw_one.data(), dw.size() * sizeof(float))) << threads << " threads";
      EXPECT_EQ(0, std::memcmp(db.data(), db_one.data(), db.size() * sizeof(float))) << threads << " threads";
    }
    ConvGeometry one = g;
    one.N = 1;
    for (int n = 0; n < g.N; ++n) {
      const auto [y, dx] = run(one, x.data() + n * one.input_size(), 1);
      EXPECT_EQ(0, std::memcmp(y.data(), y_all.data() + n * one.output_size(), y.size() * sizeof(float)))
          << "sample " << n;
      EXPECT_EQ(0, std::memcmp(dx.data(), dx_all.data() + n * one.input_size(), dx.size() * sizeof(float)))
          << "sample " << n;
    }
  }
}

// The built-in models' strided layers with many channels run on the SIMD kernels, whose
// bits do not depend on which GEMM kernel OpenBLAS picks for the CPU: the U-Nets'
// stride-2 transposed convolutions (backward-data phase by phase) both ways. What the
// phases leave to the portable path: a kernel smaller than its stride (dx pixels that
// no tap reaches) and strides above 4.
TEST_P(ConvKernels, StridedWideBackwardDataCoversTheUNets) {
  for (int filters : {24, 12}) {  // unet: 48 -> 24 -> 12 channels
    const ConvGeometry g = conv_transpose_geometry(1, 7, 7, 2 * filters, filters, 3, 3, 2, 2, Padding::same);
    EXPECT_TRUE(kernels::simd::backward_data_fits(g)) << filters;
    EXPECT_TRUE(kernels::simd::wide_forward_fits(g)) << filters;
  }
  for (int filters : {32, 16}) {  // unet-large: 64 -> 32 -> 16
    const ConvGeometry g = conv_transpose_geometry(1, 7, 7, 2 * filters, filters, 3, 3, 2, 2, Padding::same);
    EXPECT_TRUE(kernels::simd::backward_data_fits(g)) << filters;
  }
  EXPECT_FALSE(kernels::simd::backward_data_fits(conv_geometry(1, 7, 8, 17, 20, 1, 1, 2, 2, Padding::same)));
  EXPECT_FALSE(kernels::simd::backward_data_fits(conv_geometry(1, 20, 20, 17, 20, 5, 5, 5, 5, Padding::same)));
}

// The phases' geometry (first tap, tap count, padding and size per axis) on shapes no
// table lists: 100 drawn with a fixed seed, strides 1-4 on each axis, kernels 1-5, both
// paddings, odd sizes, 17-40 channels on one side. Every shape the SIMD kernels take
// agrees with the reference loops, with bias and each activation as a transposed
// convolution's forward; the ones they leave (a kernel smaller than its stride) must
// still be some, or the draw would not reach the refusals.
TEST_P(ConvKernels, StridedWideBackwardDataMatchesReferenceOnDrawnShapes) {
  Rng draw(2026);
  auto in = [&](int lo, int hi) { return lo + int(draw.below(std::uint64_t(hi - lo + 1))); };
  const Activation acts[] = {Activation::linear, Activation::relu, Activation::sigmoid, Activation::tanh};
  int covered = 0, refused = 0;
  Workspace ws;
  for (int i = 0; i < 100; ++i) {
    const int KH = in(1, 5), KW = in(1, 5), sh = in(1, 4), sw = in(1, 4);
    const Padding padding = draw.below(2) ? Padding::same : Padding::valid;
    const int H = in(KH, 12), W = in(KW, 12);
    const bool wide_in = draw.below(2);
    const int C = wide_in ? in(17, 40) : in(1, 16), O = wide_in ? in(1, 24) : in(17, 40);
    const Activation act = acts[draw.below(4)];
    const ConvCase c{2, H, W, C, O, KH, KW, sh, sw, padding, act};
    const ConvGeometry g = conv_geometry(2, H, W, C, O, KH, KW, sh, sw, padding);
    SCOPED_TRACE(describe(c));
    if (!kernels::simd::backward_data_fits(g)) {
      ++refused;
      continue;
    }
    ++covered;
    const auto dy = random_floats(g.output_size(), 100 + i);
    const auto w = random_floats(g.patch() * g.O, 200 + i, -0.3, 0.3);
    const auto b = random_floats(g.C, 300 + i);
    std::vector<float> ref(g.input_size());
    reference::conv2d_backward_data(g, dy.data(), w.data(), ref.data());
    for (std::size_t p = 0; p < ref.size(); ++p) ref[p] += b[p % g.C];
    reference::activation_forward(act, ref.data(), ref.size() / g.C, g.C);
    std::vector<float> dx(g.input_size(), 7.0f);
    kernels::simd::conv2d_backward_data(g, dy.data(), w.data(), b.data(), act, dx.data(), ws);
    EXPECT_LE(max_rel_error(dx, ref), tolerance(c));
  }
  EXPECT_GE(covered, 40);
  EXPECT_GE(refused, 10);
}

TEST_P(PoolKernels, BitIdenticalForAnyThreadCount) {
  const ConvGeometry g = pool_geometry(40, 28, 28, 12, 2, 2, 2, 2, Padding::valid);  // big enough for threads
  const auto x = random_floats(g.input_size(), 75);
  const auto dy = random_floats(g.output_size(), 76);
  auto run = [&](int threads) {
    ThreadCount tc(threads);
    std::vector<float> y(g.output_size()), dx(g.input_size());
    std::vector<std::uint16_t> where(g.output_size());
    kernels::maxpool_forward(g, x.data(), y.data(), where.data());
    kernels::maxpool_backward(g, where.data(), dy.data(), y.data(), dx.data());  // as after a ReLU
    return std::pair{y, dx};
  };
  const auto one = run(1);
  EXPECT_EQ(one, run(2));
  EXPECT_EQ(one, run(3));
}

}  // namespace
}  // namespace dn
