// The layer classes: gradients against central finite differences, Keras output
// shapes and parameter counts of the seed model, the transposed conv's "same" output
// worked out by hand, activations, Dropout, initialisers and configs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "kernels/reference/reference.hpp"
#include "nn/activation.hpp"
#include "nn/initializers.hpp"
#include "nn/layers/layers.hpp"
#include "nn/sequential.hpp"

namespace dn {
namespace {

Tensor random_tensor(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t(shape);
  Rng rng(seed);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(rng.uniform(lo, hi));
  return t;
}

std::vector<float> to_vector(const Tensor& t) { return {t.data(), t.data() + t.size()}; }

// --- finite differences ---
//
// L = sum(w * y) with fixed random w, so dL/dy = w. Each input and parameter element
// is moved by +-eps (eps = 1e-3) in float; L is summed in double and the central
// difference fd = (L+ - L-) / (2 eps) is compared with the backward's value g:
//   |g - fd| <= 2e-3 * max(1, |fd|) + |L+ - 2 L0 + L-| / (2 eps).
// The first term covers float rounding of the forward (about 1e-7 relative per output,
// divided by 2 eps; the worst case seen here is 3e-4, and a 1% error in a gradient fails).
// The second is exactly the central difference's error when a kink (a relu crossing
// zero, a max changing its winner) lies within +-eps, and only eps |f''| / 2, far below
// any real gradient bug, where the loss is smooth.

constexpr double kEps = 1e-3;
constexpr double kTol = 2e-3;

double weighted_sum(Layer& layer, const Tensor& x, const Tensor& w) {
  Tensor y;
  layer.forward(x, y, true);
  double l = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) l += double(w[i]) * y[i];
  return l;
}

void expect_matches_finite_differences(Layer& layer, Tensor x, std::uint64_t seed) {
  Tensor y;
  layer.forward(x, y, true);
  const Tensor w = random_tensor(y.shape(), seed);
  for (Param* p : layer.params()) p->grad.zero();
  Tensor dx;
  layer.backward(x, y, w, &dx);
  ASSERT_EQ(dx.shape(), x.shape());

  const double l0 = weighted_sum(layer, x, w);
  auto check = [&](float& v, float grad, const std::string& what) {
    const float saved = v;
    const float up = saved + static_cast<float>(kEps), down = saved - static_cast<float>(kEps);
    v = up;
    const double lp = weighted_sum(layer, x, w);
    v = down;
    const double lm = weighted_sum(layer, x, w);
    v = saved;
    const double step = double(up) - double(down);
    const double fd = (lp - lm) / step;
    const double kink = std::abs(lp - 2.0 * l0 + lm) / step;
    EXPECT_LE(std::abs(grad - fd), kTol * std::max(1.0, std::abs(fd)) + kink)
        << what << " fd " << fd << " backward " << grad;
  };
  for (std::size_t i = 0; i < x.size(); ++i) check(x[i], dx[i], fmt::format("dx[{}]", i));
  for (Param* p : layer.params()) {
    const Tensor grad = p->grad;
    for (std::size_t i = 0; i < p->value.size(); ++i) check(p->value[i], grad[i], fmt::format("{}[{}]", p->name, i));
  }
}

Rng build_rng() { return Rng(42); }

std::string act_str(Activation a) { return activation_name(a); }

TEST(LayerGradients, Conv2D) {
  struct Case {
    int kernel, stride;
    Padding padding;
    Activation act;
  };
  const Case cases[] = {{3, 1, Padding::same, Activation::relu},    {3, 2, Padding::valid, Activation::sigmoid},
                        {3, 2, Padding::same, Activation::tanh},    {3, 1, Padding::same, Activation::softmax},
                        {5, 1, Padding::same, Activation::linear},  {2, 2, Padding::valid, Activation::relu}};
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("k{} s{} {} {}", c.kernel, c.stride, padding_name(c.padding), act_str(c.act)));
    Conv2D layer(4, c.kernel, c.stride, c.padding, c.act);
    Rng rng = build_rng();
    layer.build({7, 5, 3}, rng);
    layer.params()[1]->value = random_tensor({4}, 5, -0.5, 0.5);  // a non-zero bias
    expect_matches_finite_differences(layer, random_tensor({2, 7, 5, 3}, 6), 7);
  }
}

TEST(LayerGradients, Conv2DTranspose) {
  struct Case {
    int kernel, stride;
    Padding padding;
    Activation act;
  };
  const Case cases[] = {{3, 2, Padding::same, Activation::relu},    {3, 1, Padding::valid, Activation::sigmoid},
                        {3, 1, Padding::same, Activation::softmax}, {3, 2, Padding::valid, Activation::tanh},
                        {1, 2, Padding::valid, Activation::linear}, {4, 2, Padding::same, Activation::linear}};
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("k{} s{} {} {}", c.kernel, c.stride, padding_name(c.padding), act_str(c.act)));
    Conv2DTranspose layer(3, c.kernel, c.stride, c.padding, c.act);
    Rng rng = build_rng();
    layer.build({3, 4, 2}, rng);
    layer.params()[1]->value = random_tensor({3}, 8, -0.5, 0.5);
    expect_matches_finite_differences(layer, random_tensor({2, 3, 4, 2}, 9), 10);
  }
}

TEST(LayerGradients, Dense) {
  for (Activation act : {Activation::linear, Activation::relu, Activation::sigmoid, Activation::tanh,
                         Activation::softmax}) {
    SCOPED_TRACE(act_str(act));
    Dense layer(5, act);
    Rng rng = build_rng();
    layer.build({7}, rng);
    layer.params()[1]->value = random_tensor({5}, 11, -0.5, 0.5);
    expect_matches_finite_differences(layer, random_tensor({3, 7}, 12), 13);
  }
  Dense per_position(4, Activation::tanh);  // applied along the last axis of a (3, 6) sample
  Rng rng = build_rng();
  EXPECT_EQ(per_position.build({3, 6}, rng), (Shape{3, 4}));
  expect_matches_finite_differences(per_position, random_tensor({2, 3, 6}, 14), 15);
}

// Inputs spaced by at least 0.01 (a shuffled ramp), so no window's winner changes within +-eps.
Tensor distinct_values(const Shape& shape, std::uint64_t seed) {
  Tensor t(shape);
  std::vector<int> order(t.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = 0.01f * (order[i] - static_cast<float>(t.size()) / 2);
  return t;
}

TEST(LayerGradients, MaxPooling2D) {
  MaxPool2D valid(2);
  Rng rng = build_rng();
  EXPECT_EQ(valid.build({5, 7, 3}, rng), (Shape{2, 3, 3}));
  expect_matches_finite_differences(valid, distinct_values({2, 5, 7, 3}, 16), 17);
  MaxPool2D same(3, Size2(2), Padding::same);
  EXPECT_EQ(same.build({5, 7, 3}, rng), (Shape{3, 4, 3}));
  expect_matches_finite_differences(same, distinct_values({2, 5, 7, 3}, 18), 19);
}

TEST(LayerGradients, ActivationLayer) {
  for (Activation act : {Activation::linear, Activation::relu, Activation::sigmoid, Activation::tanh,
                         Activation::softmax}) {
    SCOPED_TRACE(act_str(act));
    ActivationLayer layer(act);
    Rng rng = build_rng();
    layer.build({4, 3, 6}, rng);
    expect_matches_finite_differences(layer, random_tensor({2, 4, 3, 6}, 20, -3.0, 3.0), 21);
  }
}

TEST(LayerGradients, ReshapeAndFlatten) {
  Reshape reshape({-1, 4});
  Rng rng = build_rng();
  EXPECT_EQ(reshape.build({3, 4, 2}, rng), (Shape{6, 4}));
  expect_matches_finite_differences(reshape, random_tensor({2, 3, 4, 2}, 22), 23);
  Flatten flatten;
  EXPECT_EQ(flatten.build({3, 4, 2}, rng), (Shape{24}));
  expect_matches_finite_differences(flatten, random_tensor({2, 3, 4, 2}, 24), 25);
  EXPECT_THROW(Reshape({5, 5}).build({3, 4, 2}, rng), UsageError);
  EXPECT_THROW(Reshape({-1, -1}), UsageError);
}

// Stacks whose neighbours share their ReLUs' derivatives in the backward pass (each
// kind of layer leaving one and taking one, across a nested stack's boundary too).
TEST(LayerGradients, ReluDerivativesFusedBetweenNeighbours) {
  auto encoder = std::make_unique<Sequential>();
  encoder->add(std::make_unique<Conv2D>(3, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(4, 3, 1, Padding::same, Activation::relu));
  auto decoder = std::make_unique<Sequential>();
  decoder->add(std::make_unique<Conv2DTranspose>(3, 3, 2, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2DTranspose>(2, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2D>(2, 3, 1, Padding::valid, Activation::relu))
      .add(std::make_unique<Flatten>())
      .add(std::make_unique<Dense>(5, Activation::relu))
      .add(std::make_unique<Dense>(3, Activation::relu))
      .add(std::make_unique<Dense>(2, Activation::linear));
  Sequential model;
  model.add(std::move(encoder)).add(std::move(decoder));
  Rng rng = build_rng();
  model.build({6, 8, 2}, rng);
  for (Param* p : model.params())
    if (p->name == "bias") p->value = random_tensor(p->value.shape(), 70, -0.2, 0.5);
  expect_matches_finite_differences(model, random_tensor({2, 6, 8, 2}, 71), 72);
}

TEST(LayerGradients, AtSizesOtherThanTheBuiltOne) {
  // Height and width come from the input: built at 28x28 or with them free (kNone),
  // each layer runs forward and backward at other sizes.
  Rng rng = build_rng();
  Conv2D conv(3, 3, 2, Padding::same, Activation::tanh);
  EXPECT_EQ(conv.build({28, 28, 2}, rng), (Shape{14, 14, 3}));
  expect_matches_finite_differences(conv, random_tensor({2, 7, 5, 2}, 60), 61);
  Conv2D valid(2, Size2(3, 2), 1, Padding::valid, Activation::relu);
  EXPECT_EQ(valid.build({kNone, 9, 2}, rng), (Shape{kNone, 8, 2}));
  expect_matches_finite_differences(valid, random_tensor({1, 6, 9, 2}, 62), 63);
  Conv2DTranspose convt(2, 3, 2, Padding::same, Activation::sigmoid);
  EXPECT_EQ(convt.build({kNone, kNone, 3}, rng), (Shape{kNone, kNone, 2}));
  expect_matches_finite_differences(convt, random_tensor({2, 5, 4, 3}, 64), 65);
  MaxPooling2D pool(2);
  EXPECT_EQ(pool.build({28, kNone, 2}, rng), (Shape{14, kNone, 2}));
  expect_matches_finite_differences(pool, random_tensor({2, 7, 6, 2}, 66), 67);
  Reshape reshape({0, -1});
  EXPECT_EQ(reshape.build({kNone, kNone, 2}, rng), (Shape{kNone, kNone}));
  EXPECT_EQ(reshape.build({kNone, 3, 2}, rng), (Shape{kNone, 6}));
  Tensor y;
  reshape.forward(random_tensor({2, 5, 3, 2}, 68), y, false);
  EXPECT_EQ(y.shape(), (Shape{2, 5, 6}));
  EXPECT_EQ(Flatten().build({kNone, 4}, rng), (Shape{kNone}));
}

TEST(LayerGradients, BackwardAddsToParamGrads) {
  Conv2D layer(3, 3, 1, Padding::same, Activation::tanh);
  Rng rng = build_rng();
  layer.build({5, 5, 2}, rng);
  const Tensor x = random_tensor({2, 5, 5, 2}, 26);
  Tensor y;
  layer.forward(x, y, true);
  const Tensor dy = random_tensor(y.shape(), 27);
  for (Param* p : layer.params()) p->grad.zero();
  layer.backward(x, y, dy, nullptr);
  std::vector<Tensor> once;
  for (Param* p : layer.params()) once.push_back(p->grad);
  layer.backward(x, y, dy, nullptr);
  for (std::size_t k = 0; k < once.size(); ++k)
    for (std::size_t i = 0; i < once[k].size(); ++i)
      EXPECT_FLOAT_EQ(layer.params()[k]->grad[i], 2.0f * once[k][i]);
}

// --- forward against the reference, with layer-built parameters ---

double max_abs_diff(const Tensor& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst;
}

TEST(LayerForward, Conv2DTransposeIsTheKerasTransposedConv) {
  // The seed's first decoder layer, checked against the transposed conv's own definition
  // with TensorFlow's padding (nothing before, one row after) and the (kh,kw,out,in) kernel.
  Conv2DTranspose layer(12, 3, 2, Padding::same, Activation::relu);
  Rng rng = build_rng();
  ASSERT_EQ(layer.build({14, 14, 14}, rng), (Shape{28, 28, 12}));
  layer.params()[1]->value = random_tensor({12}, 28, -0.2, 0.2);
  const Tensor x = random_tensor({2, 14, 14, 14}, 29);
  Tensor y;
  layer.forward(x, y, false);
  std::vector<float> ref(y.size());
  const reference::TransposeShape t{2, 14, 14, 14, 28, 28, 12, 3, 3, 2, 2, 0, 0};
  reference::conv2d_transpose_forward(t, x.data(), layer.params()[0]->value.data(), layer.params()[1]->value.data(),
                                      Activation::relu, ref.data());
  EXPECT_LT(max_abs_diff(y, ref), 1e-5);
}

TEST(LayerForward, Conv2DDenseAndPoolMatchReference) {
  Rng rng = build_rng();
  Conv2D conv(5, Size2(3, 2), Size2(2, 1), Padding::same, Activation::sigmoid);
  conv.build({9, 7, 3}, rng);
  const Tensor x = random_tensor({3, 9, 7, 3}, 30);
  Tensor y;
  conv.forward(x, y, false);
  std::vector<float> ref(y.size());
  reference::conv2d_forward(conv_geometry(3, 9, 7, 3, 5, 3, 2, 2, 1, Padding::same), x.data(),
                            conv.params()[0]->value.data(), conv.params()[1]->value.data(), Activation::sigmoid,
                            ref.data());
  EXPECT_LT(max_abs_diff(y, ref), 1e-5);

  Dense dense(10, Activation::softmax);
  dense.build({20}, rng);
  const Tensor xd = random_tensor({4, 20}, 31);
  dense.forward(xd, y, false);
  ref.resize(y.size());
  reference::dense_forward(4, 20, 10, xd.data(), dense.params()[0]->value.data(), dense.params()[1]->value.data(),
                           Activation::softmax, ref.data());
  EXPECT_LT(max_abs_diff(y, ref), 1e-6);

  MaxPool2D pool(2);
  pool.build({9, 7, 3}, rng);
  pool.forward(x, y, false);
  EXPECT_EQ(y.shape(), (Shape{3, 4, 3, 3}));
  ref.resize(y.size());
  reference::maxpool_forward(pool_geometry(3, 9, 7, 3, 2, 2, 2, 2, Padding::valid), x.data(), ref.data());
  EXPECT_EQ(to_vector(y), ref);
}

// --- the seed model ---

TEST(SeedModel, ShapesAndParamCountsMatchKeras) {
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(std::make_unique<Conv2D>(12, 3, 1, Padding::same, Activation::relu));
  layers.push_back(std::make_unique<MaxPool2D>(2));
  layers.push_back(std::make_unique<Conv2D>(14, 3, 1, Padding::same, Activation::relu));
  layers.push_back(std::make_unique<Conv2DTranspose>(12, 3, 2, Padding::same, Activation::relu));
  layers.push_back(std::make_unique<Conv2DTranspose>(1, 3, 1, Padding::same, Activation::sigmoid));
  const std::vector<Shape> shapes = {{28, 28, 12}, {14, 14, 12}, {14, 14, 14}, {28, 28, 12}, {28, 28, 1}};
  const std::vector<std::size_t> counts = {120, 0, 1526, 1524, 109};
  Rng rng(1);
  Shape shape = {28, 28, 1};
  std::size_t total = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    shape = layers[i]->build(shape, rng);
    EXPECT_EQ(shape, shapes[i]) << layers[i]->type();
    EXPECT_EQ(layers[i]->param_count(), counts[i]) << layers[i]->type();
    total += layers[i]->param_count();
  }
  EXPECT_EQ(total, 3279u);

  // A batch flows through with those shapes, forward and backward.
  std::vector<Tensor> acts(layers.size() + 1);
  acts[0] = random_tensor({3, 28, 28, 1}, 32, 0.0, 1.0);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    layers[i]->forward(acts[i], acts[i + 1], true);
    EXPECT_EQ(acts[i + 1].shape(), batch_shape(3, shapes[i]));
  }
  Tensor grad = random_tensor(acts.back().shape(), 33), dx;
  for (std::size_t i = layers.size(); i-- > 0;) {
    layers[i]->backward(acts[i], acts[i + 1], grad, i ? &dx : nullptr);
    if (i) {
      EXPECT_EQ(dx.shape(), acts[i].shape());
      std::swap(grad, dx);
    }
  }
  EXPECT_EQ(layers[0]->name_prefix(), "conv2d");
  EXPECT_EQ(layers[1]->name_prefix(), "max_pooling2d");
  EXPECT_EQ(layers[3]->name_prefix(), "conv2d_transpose");
  EXPECT_EQ(layers[1]->type(), "MaxPooling2D");
}

// --- the transposed conv's "same" padding, worked out by hand ---

TEST(Conv2DTransposeSame, TwoByTwoOnesKernelStrideTwo) {
  // y[r][c] = sum of x[i][j] over r = 2i + kh, c = 2j + kw (kh, kw in 0..2), rows and
  // columns 0..3 kept: row 0 and 1 see input row 0, row 2 sees rows 0 and 1, row 3 row 1.
  Conv2DTranspose layer(1, 3, 2, Padding::same);
  Rng rng = build_rng();
  ASSERT_EQ(layer.build({2, 2, 1}, rng), (Shape{4, 4, 1}));
  layer.params()[0]->value.fill(1.0f);
  Tensor x({1, 2, 2, 1});
  x[0] = 1, x[1] = 2, x[2] = 3, x[3] = 4;
  Tensor y;
  layer.forward(x, y, false);
  const std::vector<float> expected = {1, 1, 3, 2,   //
                                       1, 1, 3, 2,   //
                                       4, 4, 10, 6,  //
                                       3, 3, 7, 4};
  EXPECT_EQ(to_vector(y), expected);
}

TEST(Conv2DTransposeSame, OnePixelShowsTheKernelUnflippedAndCropped) {
  // One input pixel of 1 paints the kernel at offset 0; "same" keeps rows and columns 0..1.
  Conv2DTranspose layer(1, 3, 2, Padding::same);
  Rng rng = build_rng();
  ASSERT_EQ(layer.build({1, 1, 1}, rng), (Shape{2, 2, 1}));
  Tensor& k = layer.params()[0]->value;  // (3, 3, 1, 1)
  for (std::size_t i = 0; i < 9; ++i) k[i] = static_cast<float>(i + 1);
  Tensor x({1, 1, 1, 1}, 1.0f), y;
  layer.forward(x, y, false);
  EXPECT_EQ(to_vector(y), (std::vector<float>{1, 2, 4, 5}));
}

// --- activations ---

TEST(Activations, SoftmaxSumsToOneOverChannels) {
  ActivationLayer layer(Activation::softmax);
  Rng rng = build_rng();
  layer.build({3, 4, 7}, rng);
  const Tensor x = random_tensor({2, 3, 4, 7}, 34, -50.0, 50.0);
  Tensor y;
  layer.forward(x, y, false);
  for (std::size_t p = 0; p < y.size() / 7; ++p) {
    double sum = 0.0;
    for (int c = 0; c < 7; ++c) {
      EXPECT_GE(y[p * 7 + c], 0.0f);
      sum += y[p * 7 + c];
    }
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  // Fused into a convolution, over its filters at each pixel.
  Conv2D conv(5, 3, 1, Padding::same, Activation::softmax);
  conv.build({6, 6, 2}, rng);
  conv.forward(random_tensor({2, 6, 6, 2}, 35), y, false);
  for (std::size_t p = 0; p < y.size() / 5; ++p) {
    double sum = 0.0;
    for (int c = 0; c < 5; ++c) sum += y[p * 5 + c];
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
}

TEST(Activations, NamesRoundTripAndUnknownIsAUsageError) {
  for (const char* name : {"linear", "relu", "sigmoid", "tanh", "softmax"})
    EXPECT_EQ(activation_name(parse_activation(name)), name);
  try {
    parse_activation("gelu");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("gelu"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("relu, sigmoid"), std::string::npos);
  }
}

// --- Dropout ---

TEST(DropoutLayer, IdentityAtInferenceInvertedDropoutInTraining) {
  const double rate = 0.3;
  Dropout layer(rate, 7);
  Rng rng = build_rng();
  layer.build({100, 100, 10}, rng);
  const Tensor x = random_tensor({1, 100, 100, 10}, 36, 0.5, 1.0);  // no zeros of its own
  Tensor y, dx;
  layer.forward(x, y, false);
  EXPECT_EQ(to_vector(y), to_vector(x));
  const Tensor dy = random_tensor(x.shape(), 37);
  layer.backward(x, y, dy, &dx);
  EXPECT_EQ(to_vector(dx), to_vector(dy));

  layer.forward(x, y, true);
  const float scale = static_cast<float>(1.0 / (1.0 - rate));
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0.0f)
      ++zeros;
    else
      EXPECT_EQ(y[i], x[i] * scale);
  }
  // 100,000 draws: the zero fraction's standard deviation is 0.0015.
  EXPECT_NEAR(double(zeros) / y.size(), rate, 0.01);
  // Backward: the same mask and scale (the map is linear, so this is its exact gradient).
  layer.backward(x, y, dy, &dx);
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_EQ(dx[i], y[i] == 0.0f ? 0.0f : dy[i] * scale);

  // Seeded: a second layer with the same seed draws the same masks; each step draws anew.
  Dropout twin(rate, 7);
  twin.build({100, 100, 10}, rng);
  Tensor y2, y3;
  twin.forward(x, y2, true);
  EXPECT_EQ(to_vector(y2), to_vector(y));
  twin.forward(x, y3, true);
  EXPECT_NE(to_vector(y3), to_vector(y2));
  EXPECT_THROW(Dropout(1.0), UsageError);
}

// --- initialisers ---

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (std::size_t i = 0; i < t.size(); ++i) m = std::max(m, std::abs(double(t[i])));
  return m;
}

TEST(Initializers, GlorotLimitsFromKerasFansAndZeroBiases) {
  struct Case {
    std::unique_ptr<Layer> layer;
    Shape input;
    double fan_in, fan_out;
  };
  std::vector<Case> cases;
  cases.push_back({std::make_unique<Conv2D>(12, 3, 1, Padding::same), {28, 28, 1}, 9, 108});
  // Keras's Conv2DTranspose kernel is (kh, kw, out, in): fan_in = 9 * 12, fan_out = 9 * 14.
  cases.push_back({std::make_unique<Conv2DTranspose>(12, 3, 2, Padding::same), {14, 14, 14}, 108, 126});
  cases.push_back({std::make_unique<Dense>(10), {784}, 784, 10});
  for (Case& c : cases) {
    SCOPED_TRACE(c.layer->type());
    Rng rng(3);
    c.layer->build(c.input, rng);
    const Tensor& kernel = c.layer->params()[0]->value;
    const Tensor& bias = c.layer->params()[1]->value;
    const Fans fans = compute_fans(kernel.shape());
    EXPECT_EQ(fans.fan_in, c.fan_in);
    EXPECT_EQ(fans.fan_out, c.fan_out);
    const double limit = std::sqrt(6.0 / (c.fan_in + c.fan_out));
    EXPECT_LE(max_abs(kernel), limit);
    EXPECT_GT(max_abs(kernel), 0.95 * limit);  // at least 108 draws: the largest lands near the limit
    double mean = 0.0;
    for (std::size_t i = 0; i < kernel.size(); ++i) mean += kernel[i];
    EXPECT_LT(std::abs(mean / kernel.size()), 0.25 * limit);
    EXPECT_EQ(max_abs(bias), 0.0);
  }
  // The seed fixes the weights.
  Conv2D a(4, 3), b(4, 3), c(4, 3);
  Rng ra(9), rb(9), rc(10);
  a.build({5, 5, 2}, ra);
  b.build({5, 5, 2}, rb);
  c.build({5, 5, 2}, rc);
  EXPECT_EQ(to_vector(a.params()[0]->value), to_vector(b.params()[0]->value));
  EXPECT_NE(to_vector(a.params()[0]->value), to_vector(c.params()[0]->value));
}

// --- configs and errors ---

TEST(LayerConfig, KerasArguments) {
  Conv2D conv(12, 3, 1, Padding::same, Activation::relu);
  conv.set_name("conv2d");
  EXPECT_EQ(conv.config(), nlohmann::json::parse(R"({"name": "conv2d", "filters": 12, "kernel_size": [3, 3],
      "strides": [1, 1], "padding": "same", "activation": "relu"})"));
  Conv2DTranspose convt(1, 3, 2, Padding::same, Activation::sigmoid);
  EXPECT_EQ(convt.config()["strides"], nlohmann::json::parse("[2, 2]"));
  EXPECT_EQ(MaxPool2D(2).config()["pool_size"], nlohmann::json::parse("[2, 2]"));
  EXPECT_EQ(MaxPool2D(2).config()["strides"], nlohmann::json::parse("[2, 2]"));
  EXPECT_EQ(Dense(10, Activation::softmax).config()["units"], 10);
  EXPECT_EQ(Dropout(0.25).config()["rate"], 0.25);
  EXPECT_EQ(Reshape({7, -1}).config()["target_shape"], nlohmann::json::parse("[7, -1]"));
  EXPECT_EQ(ActivationLayer(Activation::tanh).config()["activation"], "tanh");
}

TEST(LayerErrors, WrongShapesAreReported) {
  Rng rng = build_rng();
  Conv2D conv(4, 3, 1, Padding::same);
  EXPECT_THROW(conv.build({784}, rng), UsageError);
  EXPECT_THROW(Conv2D(4, 5).build({3, 3, 1}, rng), UsageError);
  EXPECT_THROW(Conv2D(0, 3), UsageError);
  conv.set_name("conv2d");
  conv.build({28, 28, 1}, rng);
  Tensor y;
  conv.forward(Tensor({2, 27, 30, 1}), y, false);  // height and width are free; the channels are not
  EXPECT_EQ(y.shape(), (Shape{2, 27, 30, 4}));
  try {
    conv.forward(Tensor({2, 28, 28, 3}), y, false);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "layer conv2d expects input of shape (batch, height, width, 1), got (2, 28, 28, 3)");
  }
  Dense dense(10);
  dense.set_name("dense");
  dense.build({1600}, rng);
  try {
    dense.forward(Tensor({2, 1700}), y, false);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "layer dense expects input of shape (batch, ..., 1600), got (2, 1700)");
  }
  Reshape reshape({0, 0, 1});
  reshape.set_name("reshape");
  reshape.build({kNone, kNone}, rng);
  try {
    reshape.forward(Tensor({2, 28, 28, 2}), y, false);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "layer reshape cannot reshape input (2, 28, 28, 2) to target_shape (0, 0, 1)");
  }
  EXPECT_THROW(Conv2D(4, 3).build({kNone, kNone, kNone}, rng), UsageError);  // the kernel needs the channels
  EXPECT_THROW(Dense(4).build({kNone}, rng), UsageError);
}

}  // namespace
}  // namespace dn

// --- skip connections: Residual (Add / Subtract) and SkipConcatenate ---

namespace dn {
namespace {

// A small inner stack that keeps (H, W, 3): conv, then a pooled level and back up.
std::unique_ptr<Sequential> same_shape_stack(int out_channels) {
  auto s = std::make_unique<Sequential>();
  s->add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(4, 3, 1, Padding::same, Activation::tanh))
      .add(std::make_unique<Conv2DTranspose>(out_channels, 3, 2, Padding::same, Activation::sigmoid));
  return s;
}

void randomise_biases(Layer& layer, std::uint64_t seed) {
  for (Param* p : layer.params())
    if (p->name == "bias") p->value = random_tensor(p->value.shape(), seed++, -0.5, 0.5);
}

TEST(LayerGradients, ResidualAddAndSubtract) {
  for (Residual::Mode mode : {Residual::Mode::add, Residual::Mode::subtract}) {
    SCOPED_TRACE(residual_mode_name(mode));
    Residual layer(same_shape_stack(3), mode);
    Rng rng = build_rng();
    EXPECT_EQ(layer.build({6, 4, 3}, rng), (Shape{6, 4, 3}));
    randomise_biases(layer, 50);
    expect_matches_finite_differences(layer, random_tensor({2, 6, 4, 3}, 51), 52);
  }
}

TEST(LayerGradients, SkipConcatenate) {
  SkipConcatenate layer(same_shape_stack(2));
  Rng rng = build_rng();
  EXPECT_EQ(layer.build({6, 4, 3}, rng), (Shape{6, 4, 5}));
  randomise_biases(layer, 60);
  expect_matches_finite_differences(layer, random_tensor({2, 6, 4, 3}, 61), 62);
}

// The containers against their definitions, computed from the inner layer run alone.
TEST(LayerForward, SkipLayersMatchTheirDefinitions) {
  const Tensor x = random_tensor({2, 4, 6, 3}, 70);
  Rng rng_a = build_rng(), rng_b = build_rng();
  auto inner = same_shape_stack(3);
  inner->build({4, 6, 3}, rng_a);
  Tensor fx;
  inner->forward(x, fx, false);

  Residual sub(same_shape_stack(3), Residual::Mode::subtract);
  sub.build({4, 6, 3}, rng_b);  // the same seed: the same weights as inner
  Tensor y;
  sub.forward(x, y, false);
  ASSERT_EQ(y.shape(), x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i] - fx[i]);

  Rng rng_c = build_rng();
  SkipConcatenate cat(same_shape_stack(3));
  cat.build({4, 6, 3}, rng_c);
  cat.forward(x, y, false);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 6, 6}));
  for (std::size_t p = 0; p < x.size() / 3; ++p)
    for (std::size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(y[p * 6 + k], x[p * 3 + k]);
      EXPECT_EQ(y[p * 6 + 3 + k], fx[p * 3 + k]);
    }
}

TEST(LayerErrors, SkipLayersRefuseInnerLayersThatChangeTheShape) {
  Rng rng = build_rng();
  auto halves = std::make_unique<Sequential>();
  halves->add(std::make_unique<MaxPooling2D>(2));
  Residual residual(std::move(halves), Residual::Mode::add);
  EXPECT_THROW(residual.build({4, 4, 1}, rng), UsageError);
  SkipConcatenate cat(std::make_unique<MaxPooling2D>(2));
  EXPECT_THROW(cat.build({4, 4, 1}, rng), UsageError);
  EXPECT_THROW(parse_residual_mode("multiply"), UsageError);
}

}  // namespace
}  // namespace dn
