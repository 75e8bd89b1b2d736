// Training on a range of noise levels: add_noise's per-image level and the config field.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/error.hpp"
#include "data/noise.hpp"
#include "train/denoiser_config.hpp"

namespace dn {
namespace {

TEST(NoiseRange, EachImageDrawsItsLevelWithinTheRange) {
  // salt-pepper over [0.05, 0.95] on a mid-grey image: the share of pixels hit (set to
  // 0 or 1) estimates each image's level to about +-0.02 over 4,096 pixels.
  const Tensor clean({200, 64, 64}, 0.5f);
  Tensor noisy;
  add_noise(parse_noise("salt-pepper:0.05"), clean, noisy, 3, 0, 0.95);
  std::vector<double> hit(200);
  for (std::size_t i = 0; i < 200; ++i) {
    int n = 0;
    for (std::size_t j = 0; j < 4096; ++j) n += noisy[i * 4096 + j] != 0.5f;
    hit[i] = n / 4096.0;
  }
  const auto [lo, hi] = std::minmax_element(hit.begin(), hit.end());
  EXPECT_GT(*lo, 0.05 - 0.03);
  EXPECT_LT(*lo, 0.15);  // 200 uniform draws reach the ends
  EXPECT_GT(*hi, 0.85);
  EXPECT_LT(*hi, 0.95 + 0.03);
  // The same seed draws the same levels and noise.
  Tensor again;
  add_noise(parse_noise("salt-pepper:0.05"), clean, again, 3, 0, 0.95);
  EXPECT_TRUE(std::equal(noisy.data(), noisy.data() + noisy.size(), again.data()));
  EXPECT_THROW(add_noise(parse_noise("gaussian:0.5"), clean, noisy, 3, 0, 0.4), UsageError);
}

TEST(NoiseRange, ConfigRoundTripsAndIsValidated) {
  DenoiserConfig c;
  c.model = "unet";
  c.train_noise_range = std::array<double, 2>{0.1, 1.0};
  const DenoiserConfig back = DenoiserConfig::from_json(c.to_json());
  ASSERT_TRUE(back.train_noise_range);
  EXPECT_EQ(*back.train_noise_range, (std::array<double, 2>{0.1, 1.0}));
  EXPECT_NO_THROW(c.validate());
  // Run folders written before the field existed read as no range.
  nlohmann::json old = DenoiserConfig{}.to_json();
  old.erase("train_noise_range");
  EXPECT_FALSE(DenoiserConfig::from_json(old).train_noise_range);

  c.train_noise_range = std::array<double, 2>{0.6, 0.2};
  EXPECT_THROW(c.validate(), ArgumentError);
  c.noise = "salt-pepper:0.2";
  c.train_noise_range = std::array<double, 2>{0.1, 1.5};  // a fraction above 1
  EXPECT_THROW(c.validate(), ArgumentError);
  c.noise = "none";
  c.train_noise_range = std::array<double, 2>{0.1, 0.5};
  EXPECT_THROW(c.validate(), ArgumentError);
}

}  // namespace
}  // namespace dn
