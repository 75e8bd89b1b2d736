// Optimizers: the first three steps against the tf.keras update rules, written out again
// here in double from the textbook forms, on six weights with fixed gradients per step.
//
// The weights start at 0, so they hold the sum of the updates, and each is compared with
// a tolerance of 1e-6 times the sum of its updates' sizes: a relative check of the update
// arithmetic (float32 in the optimizer, double here) that stays fair when updates cancel.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "nn/layer.hpp"
#include "train/optimizers.hpp"

namespace dn {
namespace {

constexpr int kSteps = 3;
constexpr std::size_t kWeights = 6;
constexpr double kRelTol = 1e-6;

// Step t's gradient for weight j: varied in size and sign, one always zero.
double gradient(int t, std::size_t j) {
  static const double base[kWeights] = {0.5, -1.25, 2.0, 0.01, -0.3, 0.0};
  return base[j] * (1.0 + 0.5 * t) * (t == 1 ? -1.0 : 1.0);
}

// Three parameters of sizes 1, 2 and 3 holding the six weights in order.
struct Problem {
  std::vector<Param> params;
  Problem() {
    int sizes[] = {1, 2, 3};
    for (int s : sizes) params.push_back({"p" + std::to_string(s), Tensor({s}), Tensor({s})});
  }
  std::vector<Param*> list() {
    std::vector<Param*> out;
    for (auto& p : params) out.push_back(&p);
    return out;
  }
  float& grad(std::size_t j) { return j < 1 ? params[0].grad[j] : j < 3 ? params[1].grad[j - 1] : params[2].grad[j - 3]; }
  float weight(std::size_t j) const {
    return j < 1 ? params[0].value[j] : j < 3 ? params[1].value[j - 1] : params[2].value[j - 3];
  }
};

// Reference rule for one weight at 1-based step t: updates w and its state in double.
using Reference = std::function<void(int t, double g, double& w, std::vector<double>& state)>;

void expect_three_steps(Optimizer& opt, int slots, double slot_init, const Reference& reference) {
  Problem problem;
  std::vector<double> w(kWeights, 0.0), travelled(kWeights, 0.0);
  std::vector<std::vector<double>> state(kWeights, std::vector<double>(static_cast<std::size_t>(slots), slot_init));
  for (int t = 0; t < kSteps; ++t) {
    for (std::size_t j = 0; j < kWeights; ++j) problem.grad(j) = static_cast<float>(gradient(t, j));
    opt.step(problem.list());
    for (std::size_t j = 0; j < kWeights; ++j) {
      const double before = w[j];
      reference(t + 1, static_cast<double>(static_cast<float>(gradient(t, j))), w[j], state[j]);
      travelled[j] += std::fabs(w[j] - before);
      EXPECT_NEAR(problem.weight(j), w[j], kRelTol * travelled[j] + 1e-12)
          << opt.name() << " step " << t + 1 << " weight " << j;
    }
  }
  EXPECT_EQ(opt.iterations(), kSteps);
}

TEST(Optimizers, SGD) {
  auto opt = make_optimizer("sgd", 0.1);
  expect_three_steps(*opt, 0, 0.0, [](int, double g, double& w, std::vector<double>&) { w -= 0.1 * g; });
}

TEST(Optimizers, SGDMomentum) {
  SGD opt(0.1, 0.9);
  expect_three_steps(opt, 1, 0.0, [](int, double g, double& w, std::vector<double>& s) {
    s[0] = 0.9 * s[0] - 0.1 * g;  // velocity
    w += s[0];
  });
}

TEST(Optimizers, SGDNesterov) {
  SGD opt(0.1, 0.9, true);
  expect_three_steps(opt, 1, 0.0, [](int, double g, double& w, std::vector<double>& s) {
    s[0] = 0.9 * s[0] - 0.1 * g;
    w += 0.9 * s[0] - 0.1 * g;
  });
}

TEST(Optimizers, Adadelta) {
  auto opt = make_optimizer("adadelta", std::nullopt);  // lr 1.0, rho 0.95, epsilon 1e-7
  expect_three_steps(*opt, 2, 0.0, [](int, double g, double& w, std::vector<double>& s) {
    const double rho = 0.95, eps = 1e-7;
    s[0] = rho * s[0] + (1 - rho) * g * g;                              // E[g^2]
    const double delta = std::sqrt(s[1] + eps) / std::sqrt(s[0] + eps) * g;
    s[1] = rho * s[1] + (1 - rho) * delta * delta;                      // E[dx^2]
    w -= 1.0 * delta;
  });
}

TEST(Optimizers, Adam) {
  auto opt = make_optimizer("adam", std::nullopt);  // lr 0.001, 0.9, 0.999, epsilon 1e-7
  expect_three_steps(*opt, 2, 0.0, [](int t, double g, double& w, std::vector<double>& s) {
    // TensorFlow works in float32: the betas are float32 numbers and beta^t is rounded to
    // float32, where 1 - beta_2^t cancels and moves the step by 1e-6. The reference takes
    // those two roundings from float and does everything else in double.
    const double b1 = 0.9f, b2 = 0.999f, eps = 1e-7;
    s[0] = b1 * s[0] + (1 - b1) * g;
    s[1] = b2 * s[1] + (1 - b2) * g * g;
    const double b1_t = std::pow(0.9f, static_cast<float>(t));
    const double b2_t = std::pow(0.999f, static_cast<float>(t));
    const double lr_t = 0.001 * std::sqrt(1 - b2_t) / (1 - b1_t);
    w -= lr_t * s[0] / (std::sqrt(s[1]) + eps);
  });
}

TEST(Optimizers, RMSprop) {
  auto opt = make_optimizer("rmsprop", std::nullopt);  // lr 0.001, rho 0.9, epsilon 1e-7
  expect_three_steps(*opt, 1, 0.0, [](int, double g, double& w, std::vector<double>& s) {
    s[0] = 0.9 * s[0] + 0.1 * g * g;
    w -= 0.001 * g / (std::sqrt(s[0]) + 1e-7);
  });
}

TEST(Optimizers, Adagrad) {
  auto opt = make_optimizer("adagrad", 0.01);
  expect_three_steps(*opt, 1, 0.1, [](int, double g, double& w, std::vector<double>& s) {
    s[0] += g * g;  // starts at initial_accumulator_value 0.1
    w -= 0.01 * g / (std::sqrt(s[0]) + 1e-7);
  });
}

TEST(Optimizers, DefaultsAndConfig) {
  EXPECT_EQ(make_optimizer("sgd")->config(),
            (nlohmann::json{{"name", "SGD"}, {"learning_rate", 0.01}, {"momentum", 0.0}, {"nesterov", false}}));
  EXPECT_EQ(make_optimizer("Adadelta")->config(),
            (nlohmann::json{{"name", "Adadelta"}, {"learning_rate", 1.0}, {"rho", 0.95}, {"epsilon", 1e-7}}));
  const auto adam = make_optimizer("ADAM")->config();
  EXPECT_EQ(adam["learning_rate"], 0.001);
  EXPECT_EQ(adam["beta_1"], 0.9);
  EXPECT_EQ(adam["beta_2"], 0.999);
  EXPECT_EQ(adam["epsilon"], 1e-7);
  const auto rms = make_optimizer("RMSprop")->config();
  EXPECT_EQ(rms["name"], "RMSprop");
  EXPECT_EQ(rms["learning_rate"], 0.001);
  EXPECT_EQ(rms["rho"], 0.9);
  EXPECT_EQ(rms["centered"], false);
  const auto adagrad = make_optimizer("adagrad")->config();
  EXPECT_EQ(adagrad["learning_rate"], 0.001);
  EXPECT_EQ(adagrad["initial_accumulator_value"], 0.1);
  EXPECT_EQ(make_optimizer("adadelta", 0.5)->learning_rate, 0.5);
}

TEST(Optimizers, BadNamesAndValuesAreUsageErrors) {
  EXPECT_THROW(make_optimizer("adamw"), UsageError);
  EXPECT_THROW(make_optimizer("sgd", -0.1), UsageError);
  EXPECT_THROW(make_optimizer("adam", std::nan("")), UsageError);
  EXPECT_THROW(SGD(0.01, 1.5), UsageError);
}

// State is kept by position, so the list must not change between steps.
TEST(Optimizers, ChangedParameterListIsRejected) {
  auto opt = make_optimizer("adam");
  Problem problem;
  opt->step(problem.list());
  auto shorter = problem.list();
  shorter.pop_back();
  EXPECT_THROW(opt->step(shorter), std::invalid_argument);
  Param bad{"bad", Tensor({2}), Tensor({3})};
  EXPECT_THROW(make_optimizer("sgd")->step({&bad}), std::invalid_argument);
}

// A new learning rate (a schedule, say) applies from the next step.
TEST(Optimizers, LearningRateCanChangeBetweenSteps) {
  auto opt = make_optimizer("sgd", 0.1);
  Param p{"w", Tensor({1}), Tensor({1}, 1.0f)};
  opt->step({&p});
  opt->learning_rate = 0.5;
  opt->step({&p});
  EXPECT_FLOAT_EQ(p.value[0], -0.6f);
}

// Large parameters are updated in ranges on the threads: each value must find its own
// slots (slot s at s times the parameter's size, not its range's), so the bits are those
// of one thread, and each value's are those of the same value updated alone.
TEST(Optimizers, LargeParametersGiveTheSameBitsOnAnyThreadCount) {
  constexpr int n = 100003;  // three ranges on three threads (SGD's too: at least 32,768 values each)
  auto grad = [](int t, int i) { return static_cast<float>(std::sin(0.37 * i + t) * (1 + i % 7)); };
  for (const char* name : {"sgd", "adadelta", "adam", "rmsprop", "adagrad"}) {
    SCOPED_TRACE(name);
    auto run = [&](int threads, int size, int first) {
      const int saved = omp_get_max_threads();
      omp_set_num_threads(threads);
      auto opt = make_optimizer(name);
      Param p{"w", Tensor({size}), Tensor({size})};
      for (int t = 0; t < kSteps; ++t) {
        for (int i = 0; i < size; ++i) p.grad[i] = grad(t, first + i);
        opt->step({&p});
      }
      omp_set_num_threads(saved);
      std::vector<float> out(p.value.data(), p.value.data() + size);
      for (const auto& slot : opt->slots()) out.insert(out.end(), slot.begin(), slot.end());
      return out;
    };
    const std::vector<float> one = run(1, n, 0);
    EXPECT_EQ(one, run(3, n, 0));
    for (int i : {0, 32768, 50000, 66669, n - 1}) {  // values in each range, alone
      const std::vector<float> alone = run(1, 1, i);
      EXPECT_EQ(alone[0], one[i]) << "value " << i;
      for (std::size_t s = 1; s < alone.size(); ++s) EXPECT_EQ(alone[s], one[s * n + i]) << "value " << i;
    }
  }
}

// The values of all parameters together are cut into ranges on the threads, so a range
// can start and end inside a parameter: the bits must still be those of one thread.
TEST(Optimizers, RangesAcrossSeveralParametersGiveTheSameBitsOnAnyThreadCount) {
  const int sizes[] = {700, 1300, 5, 2000};  // 4,005 values: ranges end inside the 3rd (2 threads), the 2nd and 4th (3)
  for (const char* name : {"adadelta", "adam", "rmsprop", "adagrad", "sgd"}) {
    SCOPED_TRACE(name);
    auto run = [&](int threads) {
      const int saved = omp_get_max_threads();
      omp_set_num_threads(threads);
      auto opt = make_optimizer(name);
      std::vector<Param> params;
      for (int size : sizes) params.push_back({"w", Tensor({size}), Tensor({size})});
      std::vector<Param*> list;
      for (Param& p : params) list.push_back(&p);
      for (int t = 0; t < kSteps; ++t) {
        int k = 0;
        for (Param& p : params)
          for (std::size_t i = 0; i < p.grad.size(); ++i, ++k)
            p.grad[i] = static_cast<float>(std::sin(0.37 * k + t) * (1 + k % 7));
        opt->step(list);
      }
      omp_set_num_threads(saved);
      std::vector<float> out;
      for (const Param& p : params) out.insert(out.end(), p.value.data(), p.value.data() + p.value.size());
      for (const auto& slot : opt->slots()) out.insert(out.end(), slot.begin(), slot.end());
      return out;
    };
    const std::vector<float> one = run(1);
    EXPECT_NE(one[0], 0.0f);
    EXPECT_EQ(one, run(2));
    EXPECT_EQ(one, run(3));
  }
}

}  // namespace
}  // namespace dn
