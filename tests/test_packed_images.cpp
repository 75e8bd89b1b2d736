// Packed image stores: u8 is bit-exact for byte/255 pixels, u16 within
// its bound, batches equal the float ones, packed noise equals whole-set noise,
// the packed loader equals load_splits, and fit trains the same on either.
#include <omp.h>

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "data/noise.hpp"
#include "data/packed_images.hpp"
#include "nn/inference.hpp"
#include "nn/models.hpp"
#include "support/test_support.hpp"
#include "train/fit.hpp"

namespace dn {
namespace {

// Every byte value, as the IDX reader converts it, in a few images of 4x8.
Tensor every_byte() {
  Tensor t({8, 4, 8});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i % 256) / 255.0f;
  return t;
}

void expect_bits_equal(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "at " << i;  // == on floats: bit-exact here
}

TEST(PackedImages, U8RoundTripIsBitExact) {
  const Tensor x = every_byte();
  const PackedImages p = PackedImages::pack(x, PixelEncoding::u8);
  EXPECT_EQ(p.encoding(), PixelEncoding::u8);
  EXPECT_EQ(p.size(), 8u);
  EXPECT_EQ(p.row_size(), 32u);
  EXPECT_EQ(p.shape(), (Shape{8, 4, 8}));
  EXPECT_EQ(p.bytes(), x.size());
  expect_bits_equal(p.unpack(), x);
  EXPECT_EQ(PackedImages::pack(x).encoding(), PixelEncoding::u8);  // chosen when exact
}

TEST(PackedImages, U16StaysWithinItsBoundAndKeepsZeroAndOne) {
  Tensor x({3, 7, 11});
  Rng rng(1, 2);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  x[0] = 0.0f, x[1] = 1.0f, x[2] = 0.5f;
  const PackedImages p = PackedImages::pack(x);
  EXPECT_EQ(p.encoding(), PixelEncoding::u16);  // not all bytes, so 16-bit
  EXPECT_EQ(p.bytes(), 2 * x.size());
  const Tensor y = p.unpack();
  ASSERT_EQ(y.shape(), x.shape());
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 1.0f);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(double(y[i]) - double(x[i])));
  EXPECT_LE(worst, 7.7e-6);
  EXPECT_GT(worst, 1e-6);  // it does round
}

TEST(PackedImages, GatherAndSliceEqualTheFloatRows) {
  const Tensor bytes = make_synthetic_digits(40, 3).images;
  Tensor noisy;
  add_noise(parse_noise("gaussian:0.4"), bytes, noisy, 9);
  const std::vector<std::size_t> order = {39, 0, 17, 17, 5, 22, 38, 1};
  const Tensor* sets[] = {&bytes, &noisy};  // u8 and u16
  for (const Tensor* x : sets) {
    const PackedImages p = PackedImages::pack(*x);
    const Tensor quantised = p.unpack();
    Tensor want, got;
    gather_rows(quantised, order, 2, 5, want);
    p.gather(order, 2, 5, got);
    expect_bits_equal(got, want);
    slice_rows(quantised, 10, 7, want);
    p.slice(10, 7, got);
    expect_bits_equal(got, want);
    Tensor via;  // the fit interface reads the same
    PackedSamples(p).gather(order, 0, 8, got);
    TensorSamples(quantised).gather(order, 0, 8, via);
    expect_bits_equal(got, via);
  }
}

TEST(PackedImages, NoiseEqualsWholeSetNoiseQuantisedOnAnyThreadCount) {
  const Tensor clean = make_synthetic_digits(50, 4).images;
  const PackedImages packed = PackedImages::pack(clean, PixelEncoding::u8);
  const int threads = omp_get_max_threads();
  for (const char* spec : {"gaussian:0.5", "salt-pepper:0.2", "speckle:0.3", "poisson:10"}) {
    const NoiseSpec noise = parse_noise(spec);
    Tensor whole;
    add_noise(noise, clean, whole, 7, 100);
    const Tensor want = PackedImages::pack(whole, PixelEncoding::u16).unpack();
    Tensor ranged;  // a range of levels draws each image's level from its own stream too
    add_noise(noise, clean, ranged, 7, 100, noise.param + 0.25);
    const Tensor want_ranged = PackedImages::pack(ranged, PixelEncoding::u16).unpack();
    for (int t : {1, 3}) {
      omp_set_num_threads(t);
      const PackedImages got = add_noise_packed(noise, packed, 7, 100);
      EXPECT_EQ(got.encoding(), PixelEncoding::u16);
      expect_bits_equal(got.unpack(), want);
      expect_bits_equal(add_noise_packed(noise, packed, 7, 100, noise.param + 0.25).unpack(), want_ranged);
    }
  }
  omp_set_num_threads(threads);
  const PackedImages none = add_noise_packed(parse_noise("none"), packed, 7);
  EXPECT_EQ(none.encoding(), PixelEncoding::u8);
  expect_bits_equal(none.unpack(), clean);
  EXPECT_THROW(add_noise_packed(parse_noise("gaussian:0.5"), packed, 7, 0, 0.4), UsageError);
}

TEST(PackedImages, BadInputsThrow) {
  Tensor x = every_byte();
  x[5] = 0.3f;  // not a byte / 255
  EXPECT_THROW(PackedImages::pack(x, PixelEncoding::u8), std::invalid_argument);
  EXPECT_EQ(PackedImages::pack(x).encoding(), PixelEncoding::u16);
  for (float bad : {-0.01f, 1.01f, NAN}) {
    x[5] = bad;
    EXPECT_THROW(PackedImages::pack(x, PixelEncoding::u16), std::invalid_argument) << bad;
    EXPECT_THROW(PackedImages::pack(x, PixelEncoding::u8), std::invalid_argument) << bad;
  }

  PackedImages p(Shape{4, 4, 8}, PixelEncoding::u16);
  EXPECT_THROW(p.set_rows(0, Tensor({2, 8, 4})), std::invalid_argument);  // other image shape
  EXPECT_THROW(p.set_rows(3, Tensor({2, 4, 8})), std::out_of_range);      // past the end
  p.set_rows(2, Tensor({2, 4, 8}, 1.0f));
  Tensor out;
  EXPECT_THROW(p.slice(3, 2, out), std::out_of_range);
  EXPECT_THROW(p.gather({0, 1, 4}, 0, 3, out), std::out_of_range);  // index 4 of 4 images
  EXPECT_THROW(p.gather({0, 1}, 1, 2, out), std::out_of_range);     // past the order's end
  EXPECT_THROW(PackedImages::from_bytes(std::vector<std::uint8_t>(10), {2, 2, 2}), std::invalid_argument);
  EXPECT_THROW(PackedImages(Shape{}, PixelEncoding::u8), std::invalid_argument);
  const PackedImages none;  // a default store holds nothing and refuses rows
  EXPECT_EQ(none.size(), 0u);
  EXPECT_TRUE(none.unpack().empty());
  EXPECT_THROW(PackedImages().set_rows(0, Tensor({1, 4, 8})), std::invalid_argument);
}

TEST(PackedImages, PackedSplitsEqualTheFloatSplits) {
  test::TempDir dir;
  write_data_folder(dir.path, make_synthetic_digits(120, 1), make_synthetic_digits(30, 2), true);
  for (std::size_t limit : {0u, 7u}) {
    const DataOptions options{"mnist", dir.path.string(), limit, {}};
    const Splits f = load_splits(options);
    const PackedSplits p = load_packed_splits(options);
    const std::pair<const Dataset*, const PackedDataset*> pairs[] = {
        {&f.train, &p.train}, {&f.validation, &p.validation}, {&f.test, &p.test}};
    for (auto [fd, pd] : pairs) {
      EXPECT_EQ(pd->images.encoding(), PixelEncoding::u8);
      EXPECT_EQ(pd->labels, fd->labels);
      expect_bits_equal(pd->images.unpack(), fd->images);
    }
  }
}

struct TinySet {
  Tensor x, y, x_val, y_val;
};

TinySet tiny_set() {
  TinySet t;
  t.y = make_synthetic_digits(200, 5).images;
  t.y_val = make_synthetic_digits(48, 6).images;
  add_noise(parse_noise("gaussian:0.3"), t.y, t.x, 1);
  add_noise(parse_noise("gaussian:0.3"), t.y_val, t.x_val, 2);
  return t;
}

History fit_tiny(const Samples& x, const Samples& y, const Samples& x_val, const Samples& y_val) {
  auto model = make_model({"seed", "relu", 28, 28}, 3);
  auto loss = make_loss("binary_crossentropy");
  auto opt = make_optimizer("adadelta", std::nullopt);
  FitOptions options;
  options.epochs = 3;
  options.seed = 3;
  return fit(*model, *loss, *opt, x, y, x_val, y_val, options);
}

TEST(PackedImages, FitOnPackedSamplesMatchesFitOnFloat) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const TinySet t = tiny_set();
  const PackedImages x = PackedImages::pack(t.x), y = PackedImages::pack(t.y, PixelEncoding::u8);
  const PackedImages x_val = PackedImages::pack(t.x_val), y_val = PackedImages::pack(t.y_val, PixelEncoding::u8);
  const History f = fit_tiny(TensorSamples(t.x), TensorSamples(t.y), TensorSamples(t.x_val), TensorSamples(t.y_val));
  const History p = fit_tiny(PackedSamples(x), PackedSamples(y), PackedSamples(x_val), PackedSamples(y_val));
  // The quantised inputs themselves as float: the packed run must be exactly this run.
  const Tensor xq = x.unpack(), x_valq = x_val.unpack();
  const History q = fit_tiny(TensorSamples(xq), TensorSamples(t.y), TensorSamples(x_valq), TensorSamples(t.y_val));
  omp_set_num_threads(threads);
  ASSERT_EQ(f.epochs.size(), 3u);
  ASSERT_EQ(p.epochs.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    // 16-bit inputs move each pixel by <= 7.7e-6; the losses follow at a few 1e-6 relative.
    EXPECT_NEAR(p.epochs[i].loss, f.epochs[i].loss, 1e-5 * f.epochs[i].loss) << i;
    EXPECT_NEAR(p.epochs[i].val_loss, f.epochs[i].val_loss, 1e-5 * f.epochs[i].val_loss) << i;
    EXPECT_EQ(p.epochs[i].loss, q.epochs[i].loss) << i;
    EXPECT_EQ(p.epochs[i].val_loss, q.epochs[i].val_loss) << i;
    EXPECT_EQ(p.epochs[i].val_metric, q.epochs[i].val_metric) << i;
  }
}

TEST(PackedImages, FitRefusesMismatchedSizes) {
  const TinySet t = tiny_set();
  const PackedImages y = PackedImages::pack(t.y, PixelEncoding::u8);
  Tensor short_x;
  slice_rows(t.x, 0, 150, short_x);
  EXPECT_THROW(fit_tiny(TensorSamples(short_x), PackedSamples(y), TensorSamples(t.x_val), TensorSamples(t.y_val)),
               std::invalid_argument);
  EXPECT_THROW(fit_tiny(TensorSamples(t.x), PackedSamples(y), TensorSamples(t.x_val), TensorSamples(t.y)),
               std::invalid_argument);
}

}  // namespace
}  // namespace dn
