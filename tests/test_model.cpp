// Sequential, Keras default names, the built-in models and their summary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include <fmt/core.h>
#include <omp.h>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "nn/inference.hpp"
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

TEST(Sequential, InferenceInBlocksMatchesOneForwardOverTheBatch) {
  // 75 samples: inference splits them into blocks (the last one short); a training
  // forward (the seed model has no dropout) runs every layer over the whole batch.
  auto model = make_model({"seed", "relu", 28, 28}, 3);
  const Dataset data = make_synthetic_digits(75, 4);
  Tensor blocked, whole;
  model->forward(data.images, blocked, false);
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
  const Tensor wrong(Shape{70, 27, 28});
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

}  // namespace
}  // namespace dn
