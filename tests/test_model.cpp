// Sequential, Keras default names, the built-in models and their summary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/core.h>
#include <omp.h>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "kernels/conv.hpp"
#include "kernels/gemm.hpp"
#include "kernels/pool.hpp"
#include "kernels/reference/reference.hpp"
#include "nn/inference.hpp"
#include "nn/model_config.hpp"
#include "nn/models.hpp"
#include "nn/summary.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

TEST(Models, SeedModelHasTheSeedsParameterCounts) {
  auto model = make_model({"seed", "relu", 28, 28}, 0);
  ASSERT_EQ(model->children().size(), 2u);
  EXPECT_EQ(model->children()[0]->param_count(), 1646u);
  EXPECT_EQ(model->children()[1]->param_count(), 1633u);
  EXPECT_EQ(model->param_count(), 3279u);
  EXPECT_EQ(model->output_shape(), (Shape{28, 28}));
}

TEST(Models, KerasDefaultNamesAndSavedParameterNames) {
  auto model = make_model({"seed", "relu", 28, 28}, 0);
  std::vector<std::string> names;
  for (auto& [name, p] : named_params(*model)) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "conv2d_1/bias",
                                             "conv2d_transpose/kernel", "conv2d_transpose/bias",
                                             "conv2d_transpose_1/kernel", "conv2d_transpose_1/bias"}));
  // Keras layouts: Conv2D (kh, kw, in, out); Conv2DTranspose (kh, kw, out, in).
  auto params = named_params(*model);
  EXPECT_EQ(params[2].second->value.shape(), (Shape{3, 3, 12, 14}));
  EXPECT_EQ(params[4].second->value.shape(), (Shape{3, 3, 12, 14}));
  EXPECT_EQ(params[6].second->value.shape(), (Shape{3, 3, 1, 12}));
}

TEST(Models, ClassifierIsKerasSimpleConvnet) {
  auto model = make_model({"classifier", "relu", 28, 28}, 0);
  EXPECT_EQ(model->param_count(), 34826u);
  EXPECT_EQ(model->output_shape(), (Shape{10}));
}

TEST(Models, LargeClassifierHasItsParameterCount) {
  auto model = make_model({"classifier-large", "relu", 28, 28}, 0);
  // 5x5x1x32+32, 3x3x32x64+64, 3x3x64x64+64, 1600x256+256, 256x10+10
  EXPECT_EQ(model->param_count(), 832u + 18496u + 36928u + 409856u + 2570u);
  EXPECT_EQ(model->output_shape(), (Shape{10}));
}

TEST(Models, DeepClassifierHasItsParameterCount) {
  auto model = make_model({"classifier-deep", "relu", 28, 28}, 0);
  // 5x5x1x32+32, 3x3x32x32+32, 3x3x32x64+64, 3x3x64x64+64, 3x3x64x128+128, 3x3x128x128+128,
  // (4x4x128)x256+256, 256x10+10
  EXPECT_EQ(model->param_count(), 832u + 9248u + 18496u + 36928u + 73856u + 147584u + 524544u + 2570u);
  EXPECT_EQ(model->output_shape(), (Shape{10}));
}

TEST(Models, TwoConvolutionUnetsHaveTheirParameterCountsAndKeepTheImageSize) {
  // full size: 1->c, c->c, (c+c)->c, c->c, c->1; half: c->2c, 2c->2c, (2c+2c)->2c, 2c->2c,
  // transposed 2c->c; quarter: 2c->4c, 4c->4c, transposed 4c->2c (3x3 kernels, one bias each)
  auto conv = [](std::size_t in, std::size_t out) { return 9 * in * out + out; };
  for (const auto& [name, c] : {std::pair<std::string, std::size_t>{"unet-large", 16}, {"unet-xl", 24}}) {
    SCOPED_TRACE(name);
    auto model = make_model({name, "relu", 28, 28}, 0);
    const std::size_t full = conv(1, c) + conv(c, c) + conv(2 * c, c) + conv(c, c) + conv(c, 1),
                      half = conv(c, 2 * c) + conv(2 * c, 2 * c) + conv(4 * c, 2 * c) + conv(2 * c, 2 * c) +
                             conv(2 * c, c),
                      quarter = conv(2 * c, 4 * c) + conv(4 * c, 4 * c) + conv(4 * c, 2 * c);
    EXPECT_EQ(model->param_count(), full + half + quarter);
    EXPECT_EQ(model->output_shape(), (Shape{28, 28}));
  }
  EXPECT_EQ(make_model({"unet-large", "relu", 28, 28}, 0)->param_count(), 129'681u);  // the README's figures
  EXPECT_EQ(make_model({"unet-xl", "relu", 28, 28}, 0)->param_count(), 291'289u);
}

TEST(Models, SameSeedSameWeightsOtherSeedOtherWeights) {
  auto a = make_model({"seed", "relu", 28, 28}, 7);
  auto b = make_model({"seed", "relu", 28, 28}, 7);
  auto c = make_model({"seed", "relu", 28, 28}, 8);
  auto pa = a->params(), pb = b->params(), pc = c->params();
  bool all_equal = true, any_differs = false;
  for (std::size_t i = 0; i < pa.size(); ++i)
    for (std::size_t j = 0; j < pa[i]->value.size(); ++j) {
      all_equal &= pa[i]->value[j] == pb[i]->value[j];
      any_differs |= pa[i]->value[j] != pc[i]->value[j];
    }
  EXPECT_TRUE(all_equal);
  EXPECT_TRUE(any_differs);
}

// copy_weights pairs parameters in order; another architecture is refused.
TEST(Models, CopyWeightsCopiesEveryParameterAndRefusesAnotherArchitecture) {
  auto from = make_model({"seed", "relu", 28, 28}, 7);
  auto to = make_model({"seed", "relu", 28, 28}, 8);
  copy_weights(*from, *to);
  const auto pf = from->params(), pt = to->params();
  for (std::size_t i = 0; i < pf.size(); ++i)
    for (std::size_t j = 0; j < pf[i]->value.size(); ++j) ASSERT_EQ(pf[i]->value[j], pt[i]->value[j]);
  auto unet = make_model({"unet", "relu", 28, 28}, 7);
  EXPECT_THROW(copy_weights(*from, *unet), std::invalid_argument);
  auto softmax_classifier = make_model({"classifier", "relu", 28, 28}, 7);
  auto large = make_model({"classifier-large", "relu", 28, 28}, 7);
  EXPECT_THROW(copy_weights(*softmax_classifier, *large), std::invalid_argument);
}

TEST(Sequential, InferenceInBlocksMatchesOneForwardOverTheBatch) {
  // 75 samples: the inference plan splits them into blocks (the last one short) and
  // runs each convolution with its pooling in one pass; a training forward (the seed
  // model has no dropout) runs every layer over the whole batch.
  auto model = make_model({"seed", "relu", 28, 28}, 3);
  const Dataset data = make_synthetic_digits(75, 4);
  Tensor blocked, whole;
  InferencePlan plan(*model);
  EXPECT_EQ(plan.layers(), 7u);
  EXPECT_EQ(plan.fused_pairs(), 1u);
  plan.run(data.images, blocked);
  model->forward(data.images, whole, true);
  ASSERT_EQ(blocked.shape(), (Shape{75, 28, 28}));
  ASSERT_EQ(blocked.shape(), whole.shape());
  for (std::size_t i = 0; i < whole.size(); ++i) ASSERT_EQ(blocked[i], whole[i]) << "at " << i;
}

TEST(Tensor, CopyOfAnEmptyTensorIsEmpty) {
  const Tensor empty;
  Tensor copy(empty), assigned(Shape{3}, 1.0f);
  assigned = empty;
  EXPECT_EQ(copy.size(), 0u);
  EXPECT_EQ(assigned.size(), 0u);
  EXPECT_EQ(assigned.rank(), 0);
}

TEST(Layer, CloneHasTheSameWeightsAndIsIndependent) {
  for (const char* name : {"seed", "classifier"}) {
    SCOPED_TRACE(name);
    auto model = make_model({name, "relu", 28, 28}, 7);
    const Dataset data = make_synthetic_digits(40, 8);
    Tensor y;
    model->forward(data.images, y, true);  // leaves activations and dropout masks behind
    const std::unique_ptr<Layer> copy = model->clone();
    EXPECT_EQ(copy->config(), model->config());
    EXPECT_EQ(copy->output_shape(), model->output_shape());
    const auto mine = named_params(*model), theirs = named_params(*copy);
    ASSERT_EQ(mine.size(), theirs.size());
    for (std::size_t i = 0; i < mine.size(); ++i) {
      EXPECT_EQ(mine[i].first, theirs[i].first);
      ASSERT_EQ(mine[i].second->value.shape(), theirs[i].second->value.shape());
      EXPECT_EQ(0, std::memcmp(mine[i].second->value.data(), theirs[i].second->value.data(),
                               mine[i].second->value.size() * sizeof(float)));
      EXPECT_NE(mine[i].second->value.data(), theirs[i].second->value.data());  // a copy, not shared
    }
    Tensor a, b;
    model->forward(data.images, a, false);
    copy->forward(data.images, b, false);
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    theirs[0].second->value.fill(0.0f);  // changing the copy leaves the original alone
    model->forward(data.images, b, false);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  }
}

TEST(Predict, SameResultForAnyThreadCountAndBatch) {
  // 75 samples: blocks of kInferenceBlock with a short last one, shared out among threads that each
  // run their own copy of the model.
  const Dataset data = make_synthetic_digits(75, 9);
  for (const char* name : {"seed", "classifier"}) {
    SCOPED_TRACE(name);
    auto model = make_model({name, "relu", 28, 28}, 10);
    Tensor whole;
    model->forward(data.images, whole, false);
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3})
      for (int batch : {256, 20}) {
        SCOPED_TRACE(fmt::format("{} threads, batch {}", threads, batch));
        omp_set_num_threads(threads);
        Tensor out;
        predict(*model, data.images, out, batch);
        EXPECT_EQ(omp_get_max_threads(), threads);  // the copies' single-thread setting stays inside
        ASSERT_EQ(out.shape(), whole.shape());
        EXPECT_EQ(0, std::memcmp(out.data(), whole.data(), out.size() * sizeof(float)));
      }
    omp_set_num_threads(saved);
  }
}

TEST(Predict, ABadInputIsReportedFromAnyThread) {
  auto model = make_model({"seed", "relu", 28, 28}, 11);
  const Tensor wrong(Shape{70, 28, 28, 2});  // any height and width, but one channel
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  Tensor out;
  EXPECT_THROW(predict(*model, wrong, out), DataError);
  omp_set_num_threads(saved);
}

TEST(Sequential, ParameterGradientsDoNotDependOnWhetherTheInputGradientIsWanted) {
  // Without dx the backward pass stops at the first layer with parameters.
  auto model = make_model({"seed", "relu", 28, 28}, 5);
  const Dataset data = make_synthetic_digits(6, 6);
  Tensor y, dx;
  model->forward(data.images, y, true);
  Tensor dy(y.shape());
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = float(i % 7) * 0.1f - 0.3f;
  auto grads = [&](Tensor* want_dx) {
    for (Param* p : model->params()) p->grad.zero();
    model->backward(data.images, y, dy, want_dx);
    std::vector<float> all;
    for (Param* p : model->params()) all.insert(all.end(), p->grad.data(), p->grad.data() + p->grad.size());
    return all;
  };
  const std::vector<float> with_dx = grads(&dx), without = grads(nullptr);
  EXPECT_EQ(dx.shape(), data.images.shape());
  EXPECT_EQ(with_dx, without);
  EXPECT_GT(std::count_if(without.begin(), without.end(), [](float g) { return g != 0.0f; }), 3000);
}

// Every layer of the tree back to its own ReLU derivative (Layer::ends_in_relu).
void unfuse(Layer& layer) {
  layer.set_relu_left(false);
  layer.set_relu_taken(false);
  for (Layer* child : layer.children()) unfuse(*child);
}

TEST(Sequential, FusedNeighboursGiveTheBitsOfTheUnfusedPasses) {
  // Conv -> pool, conv -> conv transpose across the encoder/decoder boundary, conv
  // transpose -> conv transpose, conv -> conv and dense -> dense, and the U-Net's stacks.
  for (const std::string name : {"seed", "classifier", "classifier-large", "classifier-deep", "unet", "dncnn"}) {
    SCOPED_TRACE(name);
    auto model = make_model({name, "relu", 28, 28}, 3);
    const Dataset data = make_synthetic_digits(5, 8);
    // The forward too: a convolution and its pooling run as one where the backward allows.
    // Both runs draw the same Dropout masks.
    const nlohmann::json dropout_state = model->random_state();
    auto grads = [&] {
      model->set_random_state(dropout_state);
      Tensor y, dx;
      model->forward(data.images, y, true);
      Tensor dy(y.shape());
      for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = float(i % 11) * 0.1f - 0.5f;
      for (Param* p : model->params()) p->grad.zero();
      model->backward(data.images, y, dy, &dx);
      std::vector<float> all(y.data(), y.data() + y.size());
      all.insert(all.end(), dx.data(), dx.data() + dx.size());
      for (Param* p : model->params()) all.insert(all.end(), p->grad.data(), p->grad.data() + p->grad.size());
      return all;
    };
    const std::vector<float> fused = grads();
    unfuse(*model);
    const std::vector<float> plain = grads();
    ASSERT_EQ(fused.size(), plain.size());
    EXPECT_EQ(0, std::memcmp(fused.data(), plain.data(), fused.size() * sizeof(float)));
    EXPECT_GT(std::count_if(plain.begin(), plain.end(), [](float g) { return g != 0.0f; }), 1000);
  }
}

// A model's bits may depend on the instruction set, never on the CPU model: OpenBLAS
// picks its GEMM kernel per CPU model (Haswell's and SkylakeX's round differently), so
// no built-in model may reach it, in training or in inference, on any SIMD target.
TEST(Models, NoBuiltInModelReachesTheBlas) {
  for (const std::string& name : model_names()) {
    SCOPED_TRACE(name);
    auto model = make_model({name, "relu", 28, 28}, 3);
    const Dataset data = make_synthetic_digits(3, 9);
    const std::uint64_t before = kernels::sgemm_calls();
    Tensor y, dx, predicted;
    model->forward(data.images, y, true);
    Tensor dy(y.shape());
    for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = float(i % 5) * 0.1f - 0.2f;
    model->backward(data.images, y, dy, &dx);
    predict(*model, data.images, predicted);
    EXPECT_EQ(kernels::sgemm_calls(), before);
  }
  // The counter counts: a shape the SIMD kernels leave to im2col + GEMM (stride 5).
  const ConvGeometry g = conv_geometry(1, 10, 10, 2, 3, 5, 5, 5, 5, Padding::valid);
  std::vector<float> x(g.input_size(), 1.0f), w(g.patch() * g.O, 0.5f), out(g.output_size());
  Workspace ws;
  const std::uint64_t before = kernels::sgemm_calls();
  kernels::conv2d_forward(g, x.data(), w.data(), nullptr, Activation::linear, out.data(), ws);
  EXPECT_GT(kernels::sgemm_calls(), before);
  EXPECT_FLOAT_EQ(out[0], 25.0f);
}

TEST(Models, UnknownNameOrActivationIsAUsageError) {
  EXPECT_THROW(make_model({"resnet", "relu", 28, 28}, 0), UsageError);
  EXPECT_THROW(make_model({"seed", "swish9", 28, 28}, 0), UsageError);
}

TEST(Models, SoftmaxHiddenActivationKeepsOutputInUnitInterval) {
  auto model = make_model({"seed", "softmax", 28, 28}, 1);
  Tensor x({3, 28, 28});
  Rng rng(3);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  Tensor y;
  predict(*model, x, y, 2);
  ASSERT_EQ(y.shape(), (Shape{3, 28, 28}));
  for (std::size_t i = 0; i < y.size(); ++i) {
    ASSERT_GT(y[i], 0.0f);
    ASSERT_LT(y[i], 1.0f);
  }
}

TEST(Summary, PrintsTheSeedsTable) {
  auto model = make_model({"seed", "relu", 28, 28}, 0);
  const std::string text = summary(*model, true);
  EXPECT_NE(text.find("encoder (Sequential)         (None, 14, 14, 14)        1646"), std::string::npos) << text;
  EXPECT_NE(text.find("decoder (Sequential)         (None, 28, 28)            1633"), std::string::npos) << text;
  EXPECT_NE(text.find("Total params: 3,279"), std::string::npos);
  EXPECT_NE(text.find("Total params: 1,646"), std::string::npos);
  EXPECT_NE(text.find("Total params: 1,633"), std::string::npos);
  EXPECT_NE(text.find("conv2d_1 (Conv2D)            (None, 14, 14, 14)        1526"), std::string::npos) << text;
}

TEST(Summary, CommandPrintsIt) {
  const auto r = test::run_denoise({"summary"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Total params: 3,279"), std::string::npos) << r.output;
  const auto bad = test::run_denoise({"summary", "--activation", "nope"});
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("nope"), std::string::npos) << bad.output;
}

TEST(Summary, WithCommas) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(3279), "3,279");
  EXPECT_EQ(with_commas(1234567), "1,234,567");
}


// --- fully convolutional: the seed model at any height and width ---

Tensor random_images(const Shape& shape, std::uint64_t seed) {
  Tensor x(shape);
  Rng rng(seed);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  return x;
}

// The seed model with small random biases too (they start at zero).
std::unique_ptr<Sequential> seed_with_biases(const std::string& activation, std::uint64_t seed) {
  auto model = make_model({"seed", activation, 28, 28}, seed);
  Rng rng(seed + 100);
  for (auto& [name, p] : named_params(*model))
    if (p->name == "bias")
      for (std::size_t i = 0; i < p->value.size(); ++i) p->value[i] = static_cast<float>(rng.uniform(-0.2, 0.2));
  return model;
}

// The seed model composed from the reference loops: x (N,H,W) -> (N, 2*(H/2), 2*(W/2)).
// TensorFlow's "same" pads of the two transposed convolutions: stride 2 pads nothing
// before, stride 1 one row and column.
std::vector<float> seed_reference(Sequential& model, const Tensor& x, Activation act) {
  const auto p = named_params(model);
  auto w = [&](std::size_t i) { return p[i].second->value.data(); };
  const int n = x.dim(0), h = x.dim(1), wd = x.dim(2), h2 = h / 2, w2 = wd / 2;
  const ConvGeometry g1 = conv_geometry(n, h, wd, 1, 12, 3, 3, 1, 1, Padding::same);
  std::vector<float> a1(g1.output_size());
  reference::conv2d_forward(g1, x.data(), w(0), w(1), act, a1.data());
  const ConvGeometry gp = pool_geometry(n, h, wd, 12, 2, 2, 2, 2, Padding::valid);
  std::vector<float> a2(gp.output_size());
  reference::maxpool_forward(gp, a1.data(), a2.data());
  const ConvGeometry g2 = conv_geometry(n, h2, w2, 12, 14, 3, 3, 1, 1, Padding::same);
  std::vector<float> a3(g2.output_size());
  reference::conv2d_forward(g2, a2.data(), w(2), w(3), act, a3.data());
  const reference::TransposeShape t1{n, h2, w2, 14, 2 * h2, 2 * w2, 12, 3, 3, 2, 2, 0, 0};
  std::vector<float> a4(std::size_t(n) * 2 * h2 * 2 * w2 * 12);
  reference::conv2d_transpose_forward(t1, a3.data(), w(4), w(5), act, a4.data());
  const reference::TransposeShape t2{n, 2 * h2, 2 * w2, 12, 2 * h2, 2 * w2, 1, 3, 3, 1, 1, 1, 1};
  std::vector<float> out(std::size_t(n) * 2 * h2 * 2 * w2);
  reference::conv2d_transpose_forward(t2, a4.data(), w(6), w(7), Activation::sigmoid, out.data());
  return out;
}

double max_abs_diff(const Tensor& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst;
}

TEST(FullyConvolutional, SeedModelBuiltAt28RunsAtOtherSizesAsTheReference) {
  struct Case {
    int n, h, w;
  };
  for (const char* act : {"relu", "softmax"})
    for (const Case c : {Case{3, 37, 53}, Case{2, 640, 480}}) {
      SCOPED_TRACE(fmt::format("{}, {}x{}", act, c.h, c.w));
      auto model = seed_with_biases(act, 21);
      const Tensor x = random_images({c.n, c.h, c.w}, 22);
      const std::vector<float> ref = seed_reference(*model, x, parse_activation(act));
      Tensor predicted, forwarded;
      predict(*model, x, predicted);
      model->forward(x, forwarded, false);
      // 37 -> pooled 18 -> transposed 36: Keras's output size.
      const Shape expected{c.n, 2 * (c.h / 2), 2 * (c.w / 2)};
      ASSERT_EQ(predicted.shape(), expected);
      ASSERT_EQ(forwarded.shape(), expected);
      EXPECT_LT(max_abs_diff(predicted, ref), 1e-5);
      EXPECT_EQ(0, std::memcmp(predicted.data(), forwarded.data(), predicted.size() * sizeof(float)));
    }
}

// The seed model built with height and width free, with m's weights.
std::unique_ptr<Sequential> free_copy(Sequential& m) {
  nlohmann::json j = model_to_json(m);
  j["build_input_shape"] = nlohmann::json::array({nullptr, nullptr, nullptr});
  auto free = model_from_json(j, 1);
  const auto from = named_params(m), to = named_params(*free);
  for (std::size_t i = 0; i < from.size(); ++i) to[i].second->value = from[i].second->value;
  return free;
}

TEST(FullyConvolutional, BuiltWithFreeSizesItGivesTheSameResultsAsBuiltAt28) {
  auto fixed = seed_with_biases("relu", 23);
  auto free = free_copy(*fixed);
  EXPECT_EQ(free->output_shape(), (Shape{kNone, kNone}));
  const std::string text = summary(*free, true);
  EXPECT_NE(text.find("encoder (Sequential)         (None, None, None, 14)    1646"), std::string::npos) << text;
  EXPECT_NE(text.find("decoder (Sequential)         (None, None, None)        1633"), std::string::npos) << text;
  EXPECT_EQ(model_to_json(*free)["build_input_shape"], nlohmann::json::parse("[null, null, null]"));
  for (const Shape& shape : {Shape{20, 28, 28}, Shape{3, 37, 53}}) {
    SCOPED_TRACE(shape_str(shape));
    const Tensor x = random_images(shape, 24);
    Tensor a, b;
    predict(*fixed, x, a);
    predict(*free, x, b);
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    // Training at this size: the same outputs and gradients.
    fixed->forward(x, a, true);
    free->forward(x, b, true);
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    const Tensor dy = random_images(a.shape(), 25);
    Tensor dxa, dxb;
    for (Param* p : fixed->params()) p->grad.zero();
    for (Param* p : free->params()) p->grad.zero();
    fixed->backward(x, a, dy, &dxa);
    free->backward(x, b, dy, &dxb);
    ASSERT_EQ(dxa.shape(), x.shape());
    EXPECT_EQ(0, std::memcmp(dxa.data(), dxb.data(), dxa.size() * sizeof(float)));
    const auto pa = fixed->params(), pb = free->params();
    for (std::size_t i = 0; i < pa.size(); ++i)
      EXPECT_EQ(0, std::memcmp(pa[i]->grad.data(), pb[i]->grad.data(), pa[i]->grad.size() * sizeof(float))) << i;
  }
}

TEST(FullyConvolutional, ClassifiersStayAtTheirBuiltSize) {
  auto model = make_model({"classifier", "relu", 28, 28}, 2);
  Tensor out;
  try {
    predict(*model, Tensor({2, 30, 30}), out);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "layer reshape cannot reshape input (2, 30, 30) to target_shape (28, 28, 1)");
  }
}

// --- Keras configs: model_to_json and back ---

TEST(ModelConfig, EveryBuiltInModelRoundTrips) {
  const Tensor x = random_images({21, 28, 28}, 30);
  for (const std::string& name : model_names())
    for (const char* act : {"relu", "softmax"}) {
      if (name != "seed" && std::string(act) == "softmax") continue;  // the classifiers take no activation
      SCOPED_TRACE(name + " " + act);
      auto m = make_model({name, act, 28, 28}, 31);
      const nlohmann::json j = model_to_json(*m);
      EXPECT_EQ(j["class_name"], "Sequential");
      EXPECT_EQ(j["build_input_shape"], nlohmann::json::parse("[null, 28, 28]"));
      auto copy = model_from_json(j, 32);
      EXPECT_EQ(model_to_json(*copy), j);
      EXPECT_EQ(summary(*copy, true), summary(*m, true));
      const auto from = named_params(*m), to = named_params(*copy);
      ASSERT_EQ(from.size(), to.size());
      for (std::size_t i = 0; i < from.size(); ++i) {
        EXPECT_EQ(from[i].first, to[i].first);
        ASSERT_EQ(from[i].second->value.shape(), to[i].second->value.shape());
        to[i].second->value = from[i].second->value;
      }
      Tensor a, b;
      predict(*m, x, a);
      predict(*copy, x, b);
      ASSERT_EQ(a.shape(), b.shape());
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    }
}

TEST(ModelConfig, KerasStructure) {
  auto m = make_model({"seed", "relu", 28, 28}, 0);
  const nlohmann::json j = model_to_json(*m);
  EXPECT_EQ(j["config"]["name"], "conv_ae");
  const nlohmann::json& encoder = j["config"]["layers"][0];
  EXPECT_EQ(encoder["class_name"], "Sequential");
  EXPECT_EQ(encoder["config"]["name"], "encoder");
  EXPECT_EQ(encoder["config"]["layers"][0],
            nlohmann::json::parse(R"({"class_name": "Reshape", "config": {"name": "reshape", "target_shape": [0, 0, 1]}})"));
  EXPECT_EQ(encoder["config"]["layers"][1]["config"],
            nlohmann::json::parse(R"({"name": "conv2d", "filters": 12, "kernel_size": [3, 3], "strides": [1, 1],
                                      "padding": "same", "activation": "relu"})"));
  auto classifier = make_model({"classifier", "relu", 28, 28}, 5);
  const nlohmann::json dropout = model_to_json(*classifier)["config"]["layers"][6];
  EXPECT_EQ(dropout, nlohmann::json::parse(R"({"class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5,
                                               "seed": 5}})"));
}

TEST(ModelConfig, KerasDefaultsMayBeLeftOut) {
  const auto layer = layer_from_config(nlohmann::json::parse(R"({"class_name": "Conv2D",
      "config": {"name": "c", "filters": 4, "kernel_size": 3, "trainable": true}})"));
  EXPECT_EQ(layer->name(), "c");
  EXPECT_EQ(layer->config(), nlohmann::json::parse(R"({"name": "c", "filters": 4, "kernel_size": [3, 3],
      "strides": [1, 1], "padding": "valid", "activation": "linear"})"));
  const auto pool = layer_from_config(nlohmann::json::parse(R"({"class_name": "MaxPooling2D", "config": {}})"));
  EXPECT_EQ(pool->config()["strides"], nlohmann::json::parse("[2, 2]"));
}

TEST(ModelConfig, BadConfigsAreDataErrorsNamingLayerArgumentAndValue) {
  auto error = [](const std::string& text) -> std::string {
    try {
      layer_from_config(nlohmann::json::parse(text));
    } catch (const DataError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error(R"({"class_name": "Conv3D", "config": {}})"),
            "unknown layer class 'Conv3D' (known: Activation, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten, "
            "MaxPooling2D, Reshape, Residual, Sequential, SkipConcatenate)");
  EXPECT_EQ(error(R"({"class_name": "Residual", "config": {"name": "r", "mode": "add", "layer": 3}})"),
            "Residual layer 'r': argument 'layer' must be a layer config {\"class_name\", \"config\"} (got 3)");
  EXPECT_EQ(error(R"({"class_name": "Residual", "config": {"name": "r", "mode": "times", "layer": {"class_name": )"
                  R"("Flatten", "config": {}}}})"),
            "Residual layer 'r': argument 'mode' must be one of the names it takes (got \"times\")");
  EXPECT_EQ(error(R"({"class_name": "Conv2D", "config": {"name": "c1", "kernel_size": 3}})"),
            "Conv2D layer 'c1': missing argument 'filters'");
  EXPECT_EQ(error(R"({"class_name": "Conv2D", "config": {"name": "c1", "filters": "12", "kernel_size": 3}})"),
            "Conv2D layer 'c1': argument 'filters' must be an integer (got \"12\")");
  EXPECT_EQ(error(R"({"class_name": "Conv2D", "config": {"name": "c1", "filters": 12, "kernel_size": [3]}})"),
            "Conv2D layer 'c1': argument 'kernel_size' must be an integer or a list of two integers (got [3])");
  EXPECT_EQ(error(R"({"class_name": "Dense", "config": {"name": "d", "units": 10, "activation": "swish9"}})"),
            "Dense layer 'd': argument 'activation' must be one of the names it takes (got \"swish9\")");
  EXPECT_EQ(error(R"({"class_name": "Dense", "config": {"name": "d", "units": 0}})"),
            "Dense layer 'd': Dense needs units >= 1 (got 0)");
  EXPECT_EQ(error(R"({"class_name": "Dropout", "config": {"name": "x", "rate": 0.5, "seed": -1}})"),
            "Dropout layer 'x': argument 'seed' must be a non-negative integer or null (got -1)");
  EXPECT_EQ(error(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense",
                      "config": {"name": "inner"}}]}})"),
            "Dense layer 'inner': missing argument 'units'");
  EXPECT_EQ(error(R"({"config": {}})"), R"(a layer needs "class_name" and "config" (got {"config":{}}))");

  auto m = make_model({"classifier", "relu", 28, 28}, 0);
  nlohmann::json j = model_to_json(*m);
  j["build_input_shape"] = nlohmann::json::parse("[null, 30, 30]");  // not the classifier's (28, 28, 1)
  EXPECT_THROW(model_from_json(j, 0), DataError);
  j["build_input_shape"] = nlohmann::json::parse("[28, 28]");
  EXPECT_THROW(model_from_json(j, 0), DataError);
  EXPECT_THROW(model_from_json(nlohmann::json::parse(R"({"class_name": "Dense", "config": {}})"), 0), DataError);
}

}  // namespace
}  // namespace dn
