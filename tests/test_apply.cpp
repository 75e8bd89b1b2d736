// denoise apply and what it stands on: the hardened picture decoders (every layout and bit
// depth round trips; damaged and hostile files are refused), tiled inference equal to
// whole-image inference, colour and alpha handling, and the command's file handling.
#include <zlib.h>

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "data/image_codec.hpp"
#include "eval/apply_images.hpp"
#include "io/png.hpp"
#include "nn/models.hpp"
#include "nn/tiled_inference.hpp"
#include "run/run_folder.hpp"
#include "support/test_support.hpp"
#include "train/denoiser_config.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;

// A smooth gradient with some texture, every channel different, alpha a ramp of its own.
Picture test_picture(int width, int height, int channels, int bit_depth) {
  Picture p(width, height, channels, bit_depth);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        const double v = 0.5 + 0.4 * std::sin(0.21 * x + 0.13 * y + c) * std::cos(0.05 * (x - y) * (c + 1));
        p.set((std::size_t(y) * std::size_t(width) + std::size_t(x)) * std::size_t(channels) + std::size_t(c), float(v));
      }
  return p;
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// Rewrites the IHDR chunk's width and height (and its CRC) of a PNG.
std::string with_declared_size(std::string png, std::uint32_t width, std::uint32_t height) {
  const auto put = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + std::size_t(i)] = char((v >> (24 - 8 * i)) & 0xFF);
  };
  put(16, width), put(20, height);  // signature 8, length 4, "IHDR" 4
  const auto crc = crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  put(29, std::uint32_t(crc));
  return png;
}

void expect_refused(const std::string& file, const std::string& words) {
  try {
    decode_picture(bytes_of(file), "hostile.png");
    FAIL() << "decoded a file that should be refused (" << words << ")";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("hostile.png"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(PictureCodec, EveryPngLayoutAndBitDepthRoundTrips) {
  for (int channels = 1; channels <= 4; ++channels)
    for (int depth : {8, 16}) {
      const Picture p = test_picture(37, 23, channels, depth);
      const Picture back = decode_picture(bytes_of(encode_png(p)), "x.png");
      EXPECT_EQ(back.width, 37);
      EXPECT_EQ(back.height, 23);
      EXPECT_EQ(back.channels, channels);
      EXPECT_EQ(back.bit_depth, depth);
      EXPECT_EQ(back.bytes, p.bytes) << channels << " channels, " << depth << " bits";
    }
}

TEST(PictureCodec, JpegGrayAndRgbRoundTripClosely) {
  for (int channels : {1, 3}) {
    const Picture p = test_picture(64, 48, channels, 8);
    const Picture back = decode_picture(bytes_of(encode_jpeg(p, 95)), "x.jpg");
    ASSERT_EQ(back.channels, channels);
    ASSERT_EQ(back.bytes.size(), p.bytes.size());
    double err = 0;
    for (std::size_t i = 0; i < p.bytes.size(); ++i) err += std::abs(int(back.bytes[i]) - int(p.bytes[i]));
    EXPECT_LT(err / double(p.bytes.size()), 3.0);
  }
}

TEST(PictureCodec, DamagedAndHostileFilesAreRefused) {
  const std::string png = encode_png(test_picture(40, 30, 3, 8));
  // A flipped bit in the IDAT chunk's CRC: the data no longer matches it.
  std::string bad_crc = png;
  const std::size_t idat = bad_crc.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  std::size_t length = 0;
  for (std::size_t i = idat - 4; i < idat; ++i) length = length << 8 | std::uint8_t(bad_crc[i]);
  const std::size_t crc_at = idat + 4 + length;
  bad_crc[crc_at] = char(bad_crc[crc_at] ^ 0x55);
  expect_refused(bad_crc, "CRC");
  expect_refused(png.substr(0, png.size() / 2), "bad PNG");
  expect_refused(png.substr(0, 20), "bad PNG");
  // A decompression bomb: a tiny file that declares 20000 x 20000 pixels.
  expect_refused(with_declared_size(png, 20000, 20000), "over the limit");
  expect_refused(std::string("GIF89a not a picture we read"), "cannot read as an image");
  // The limit is a parameter: a raised one lets the header through, and then the data is short.
  EXPECT_THROW(decode_picture(bytes_of(with_declared_size(png, 20000, 20000)), "x.png", 500'000'000), DataError);

  const std::string jpeg = encode_jpeg(test_picture(64, 64, 3, 8));
  expect_refused(jpeg.substr(0, jpeg.size() * 2 / 3), "bad JPEG");
  EXPECT_NO_THROW(decode_picture(bytes_of(jpeg), "ok.jpg"));
}

Tensor random_plane(int h, int w, std::uint64_t seed) {
  Tensor t({h, w});
  Rng rng(seed);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = float(rng.uniform());
  return t;
}

// The U-Net's concatenations need sides its two poolings divide; the probe finds a
// multiple that fits (8: 33 x 8 pools to 66 and 33 without a lost row), and odd-sized
// pictures are padded to it and cropped back.
TEST(TiledInference, UNetRunsOnAnySizeThroughItsSizeMultiple) {
  auto model = make_model({"unet", "relu", 28, 28}, 3);
  const int m = model_size_multiple(*model);
  EXPECT_EQ(m % 4, 0);
  const Tensor image = random_plane(37, 45, 5);
  const Tensor whole = predict_image_whole(*model, image);
  ASSERT_EQ(whole.shape(), image.shape());
  const Tensor tiled = predict_image_tiled(*model, image, TileOptions{16, 16});
  float worst = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) worst = std::max(worst, std::abs(tiled[i] - whole[i]));
  EXPECT_LE(worst, 1e-6f);
}

TEST(TiledInference, TilesEqualWholeImageInference) {
  auto model = make_model({"seed", "relu", 28, 28}, 3);
  EXPECT_EQ(model_size_multiple(*model), 2);
  // conv 3x3 same: 1; pool 2x2: 1; conv 3x3 at stride 2: 2; transposed 3x3 stride 2: 2; transposed 3x3: 1.
  EXPECT_EQ(receptive_radius(*model), 7);
  for (auto [h, w] : {std::pair{77, 101}, std::pair{64, 64}, std::pair{9, 130}, std::pair{1, 1}}) {
    const Tensor image = random_plane(h, w, std::uint64_t(h * 1000 + w));
    const Tensor whole = predict_image_whole(*model, image);
    ASSERT_EQ(whole.shape(), image.shape());
    // nullopt: the overlap the model's receptive field gives (8 after rounding up to the size multiple)
    for (TileOptions tiles : {TileOptions{16, std::nullopt}, TileOptions{16, 8}, TileOptions{20, 12}, TileOptions{7, 9}}) {
      const Tensor tiled = predict_image_tiled(*model, image, tiles);
      ASSERT_EQ(tiled.shape(), image.shape());
      float worst = 0;
      for (std::size_t i = 0; i < whole.size(); ++i) worst = std::max(worst, std::abs(tiled[i] - whole[i]));
      EXPECT_LE(worst, 1e-6f) << h << "x" << w << " tile " << tiles.tile << " overlap " << tiles.overlap.value_or(-1);
    }
  }
  // Without overlap the tiles' own edges show: the test above can tell the difference.
  const Tensor image = random_plane(64, 64, 1);
  const Tensor whole = predict_image_whole(*model, image), tiled = predict_image_tiled(*model, image, {16, 0});
  float worst = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) worst = std::max(worst, std::abs(tiled[i] - whole[i]));
  EXPECT_GT(worst, 1e-4f);
}

TEST(DenoisePicture, KeepsLayoutAndAlphaForEveryChannelCount) {
  auto model = make_model({"seed", "relu", 28, 28}, 3);
  for (int channels = 1; channels <= 4; ++channels)
    for (int depth : {8, 16})
      for (ColourMode colour : {ColourMode::per_channel, ColourMode::luma}) {
        const Picture in = test_picture(45, 31, channels, depth);
        const Picture out = denoise_picture(*model, in, colour, {16, 8});
        ASSERT_EQ(out.width, in.width);
        ASSERT_EQ(out.height, in.height);
        ASSERT_EQ(out.channels, in.channels);
        ASSERT_EQ(out.bit_depth, in.bit_depth);
        EXPECT_NE(out.bytes, in.bytes);
        if (in.has_alpha()) {
          for (std::size_t i = std::size_t(channels - 1); i < in.samples(); i += std::size_t(channels))
            ASSERT_EQ(out.level(i), in.level(i)) << "alpha changed at sample " << i;
        }
      }
}

TEST(DenoisePicture, LumaModeKeepsChroma) {
  auto model = make_model({"seed", "relu", 28, 28}, 3);
  const Picture in = test_picture(40, 40, 3, 16);
  const Picture out = denoise_picture(*model, in, ColourMode::luma, {512, 32});
  double worst = 0;
  for (std::size_t p = 0; p < in.samples() / 3; ++p) {
    const auto chroma = [&](const Picture& pic, std::size_t c) {
      const double y = 0.299 * pic.get(3 * p) + 0.587 * pic.get(3 * p + 1) + 0.114 * pic.get(3 * p + 2);
      return pic.get(3 * p + c) - y;
    };
    // Where no channel clipped, B - Y and R - Y are kept to the rounding of 16 bits.
    bool clipped = false;
    for (std::size_t c = 0; c < 3; ++c) clipped |= out.level(3 * p + c) == 0 || out.level(3 * p + c) == 65535;
    if (!clipped) worst = std::max({worst, std::abs(chroma(out, 0) - chroma(in, 0)), std::abs(chroma(out, 2) - chroma(in, 2))});
  }
  EXPECT_LT(worst, 2e-5);
}

// ---- the command -------------------------------------------------------------------------

fs::path save_test_denoiser(const fs::path& dir) {
  auto model = make_model({"seed", "relu", 28, 28}, 3);
  save_run_folder(dir, DenoiserConfig{}.to_json(), *model, nlohmann::json::array());
  return dir;
}

TEST(ApplyCommand, BadFilesFailAloneAndOutputsKeepTheirLayout) {
  test::TempDir tmp;
  const fs::path run = save_test_denoiser(tmp / "run");
  const fs::path in = tmp / "in";
  write_picture_atomic(in / "gray16.png", test_picture(33, 21, 1, 16));
  write_picture_atomic(in / "rgba.png", test_picture(50, 40, 4, 8));
  write_picture_atomic(in / "photo.jpg", test_picture(64, 48, 3, 8));
  write_picture_atomic(in / "sub" / "gray_alpha.png", test_picture(17, 70, 2, 8));
  test::write_bytes(in / "bad.png", "this is not a picture");
  test::write_bytes(in / "bomb.png", with_declared_size(encode_png(test_picture(8, 8, 1, 8)), 20000, 20000));
  const auto before = read_file_bytes(in / "rgba.png");

  const auto r = test::run_denoise({"apply", run.string(), in.string(), "-r", "--out", (tmp / "out").string(),
                                    "--threads", "2"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("bad.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bomb.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("over the limit"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 of 6 pictures failed"), std::string::npos) << r.output;

  for (const char* name : {"gray16.png", "rgba.png", "photo.jpg", "sub/gray_alpha.png"}) {
    const Picture a = read_picture(in / name), b = read_picture(tmp / "out" / name);
    EXPECT_EQ(b.width, a.width) << name;
    EXPECT_EQ(b.height, a.height) << name;
    EXPECT_EQ(b.channels, a.channels) << name;
    EXPECT_EQ(b.bit_depth, a.bit_depth) << name;
  }
  EXPECT_FALSE(fs::exists(tmp / "out" / "bad.png"));
  EXPECT_EQ(read_file_bytes(in / "rgba.png"), before);

  const nlohmann::json summary = read_json(tmp / "out" / "apply.json");
  EXPECT_EQ(summary["failed"], 2);
  ASSERT_EQ(summary["files"].size(), 6u);
  for (const auto& f : summary["files"]) {
    EXPECT_TRUE(f.contains("seconds"));
    EXPECT_TRUE(f.contains("error") || f.contains("width")) << f.dump();
  }
  // A raised pixel limit lets the bomb's header through; its missing data is still an error.
  const auto raised = test::run_denoise({"apply", run.string(), (in / "bomb.png").string(), "--out",
                                         (tmp / "out2").string(), "--max-pixels", "1000000000"});
  EXPECT_EQ(raised.status, 1) << raised.output;
  EXPECT_NE(raised.output.find("bad PNG"), std::string::npos) << raised.output;
}

TEST(ApplyCommand, NeverOverwritesAnInput) {
  test::TempDir tmp;
  const fs::path run = save_test_denoiser(tmp / "run");
  write_picture_atomic(tmp / "in" / "a.png", test_picture(20, 20, 1, 8));
  const auto before = read_file_bytes(tmp / "in" / "a.png");
  const auto r = test::run_denoise({"apply", run.string(), (tmp / "in").string(), "--out", (tmp / "in").string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("would overwrite an input"), std::string::npos) << r.output;
  EXPECT_EQ(read_file_bytes(tmp / "in" / "a.png"), before);
  // The same picture given twice under one name writes once and refuses the second.
  write_picture_atomic(tmp / "other" / "a.png", test_picture(20, 20, 1, 8));
  const auto twice = test::run_denoise({"apply", run.string(), (tmp / "in" / "a.png").string(),
                                        (tmp / "other" / "a.png").string(), "--out", (tmp / "out").string()});
  EXPECT_EQ(twice.status, 1) << twice.output;
  EXPECT_NE(twice.output.find("already wrote"), std::string::npos) << twice.output;
}

TEST(ApplyCommand, NoiseReferenceAndCompare) {
  test::TempDir tmp;
  const fs::path run = save_test_denoiser(tmp / "run");
  write_picture_atomic(tmp / "clean" / "a.png", test_picture(40, 30, 3, 8));
  const auto r = test::run_denoise({"apply", run.string(), (tmp / "clean").string(), "--out", (tmp / "out").string(),
                                    "--noise", "gaussian:0.2", "--seed", "4", "--reference", (tmp / "clean").string(),
                                    "--compare"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("PSNR"), std::string::npos) << r.output;
  const nlohmann::json summary = read_json(tmp / "out" / "apply.json");
  const auto& f = summary["files"][0];
  for (const char* key : {"input_psnr", "psnr", "input_ssim", "ssim"}) EXPECT_TRUE(f.contains(key)) << key;
  EXPECT_LT(f["input_psnr"].get<double>(), 20.0);  // gaussian:0.2 is about 14 dB
  const Picture compare = read_picture(tmp / "out" / "a.compare.png");
  EXPECT_EQ(compare.width, 2 * 40 + 4);
  EXPECT_EQ(compare.height, 30);
  // The noise is seeded: the same command gives the same bytes.
  const auto again = test::run_denoise({"apply", run.string(), (tmp / "clean").string(), "--out",
                                        (tmp / "out2").string(), "--noise", "gaussian:0.2", "--seed", "4"});
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(read_file_bytes(tmp / "out" / "a.png"), read_file_bytes(tmp / "out2" / "a.png"));
}

TEST(ApplyCommand, BadFlagValuesAreUsageErrors) {
  test::TempDir tmp;
  const fs::path run = save_test_denoiser(tmp / "run");
  write_picture_atomic(tmp / "a.png", test_picture(20, 20, 1, 8));
  const auto colour = test::run_denoise({"apply", run.string(), (tmp / "a.png").string(), "--out",
                                         (tmp / "o").string(), "--colour", "hsv"});
  EXPECT_EQ(colour.status, 2) << colour.output;
  EXPECT_NE(colour.output.find("--colour"), std::string::npos) << colour.output;
  const auto tile = test::run_denoise({"apply", run.string(), (tmp / "a.png").string(), "--out", (tmp / "o").string(),
                                       "--tile", "0"});
  EXPECT_EQ(tile.status, 2) << tile.output;
  EXPECT_NE(tile.output.find("--tile"), std::string::npos) << tile.output;
}

TEST(ApplyCommand, ClassicalBaselineOnWholePictures) {
  // A 3x3 median removes one white pixel from a black field and keeps the rest, in every
  // channel of an RGB picture (per channel) and, in luma mode, changes R, G and B alike.
  test::TempDir tmp;
  Picture in(9, 7, 3, 8);
  for (std::size_t c = 0; c < 3; ++c) in.set((std::size_t(3) * 9 + 4) * 3 + c, 1.0f);
  write_picture_atomic(tmp / "in" / "dot.png", in);
  for (const char* colour : {"per-channel", "luma"}) {
    const fs::path out = tmp / colour;
    const auto r = test::run_denoise({"apply", "baseline:median:3", (tmp / "in").string(), "--out", out.string(),
                                      "--colour", colour});
    ASSERT_EQ(r.status, 0) << r.output;
    const Picture result = read_picture(out / "dot.png");
    ASSERT_EQ(result.channels, 3);
    for (std::size_t i = 0; i < result.samples(); ++i) ASSERT_EQ(result.level(i), 0) << colour << " sample " << i;
    EXPECT_EQ(read_json(out / "apply.json")["denoiser"], "baseline:median:3");
  }
  for (const auto& [spec, words] : std::vector<std::pair<std::string, std::string>>{
           {"baseline:wiener:3", "median, gaussian_blur, bilateral, nl_means"},
           {"baseline:median:4", "odd integer"},
           {"baseline:nl_means:x", "nl_means:h with a number"}}) {
    const auto bad = test::run_denoise({"apply", spec, (tmp / "in").string(), "--out", (tmp / "bad").string()});
    EXPECT_EQ(bad.status, 2) << bad.output;
    EXPECT_NE(bad.output.find(words), std::string::npos) << bad.output;
    EXPECT_FALSE(fs::exists(tmp / "bad" / "dot.png"));
  }
}

// ---- training on a folder -------------------------------------------------------------------

TEST(FolderDataset, SeededPatchesOfEveryPictureAndSplits) {
  test::TempDir tmp;
  write_picture_atomic(tmp / "pics" / "a.png", test_picture(100, 70, 3, 16));
  write_picture_atomic(tmp / "pics" / "sub" / "b.jpg", test_picture(64, 64, 1, 8));
  write_picture_atomic(tmp / "pics" / "c.png", test_picture(200, 150, 4, 8));
  DataOptions options;
  options.dataset = "folder:" + (tmp / "pics").string();
  options.patch = 32;
  options.flips = true;
  options.seed = 7;
  const PackedSplits s = load_packed_splits(options);
  // 100*70/32^2 = 6, 64*64/32^2 = 4, 200*150/32^2 = 29 patches; a twelfth held out.
  EXPECT_EQ(s.train.size() + s.validation.size(), 39u);
  EXPECT_EQ(s.validation.size(), 3u);
  EXPECT_EQ(s.train.height(), 32);
  EXPECT_EQ(s.train.width(), 32);
  const PackedSplits again = load_packed_splits(options);
  EXPECT_EQ(again.train.images.unpack().shape(), s.train.images.unpack().shape());
  const Tensor a = again.train.images.unpack(), b = s.train.images.unpack();
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  options.seed = 8;
  const Tensor c = load_packed_splits(options).train.images.unpack();
  EXPECT_NE(std::memcmp(c.data(), b.data(), std::min(c.size(), b.size()) * sizeof(float)), 0);

  options.validation_dir = (tmp / "pics" / "sub").string();
  const PackedSplits separate = load_packed_splits(options);
  EXPECT_EQ(separate.train.size(), 39u);
  EXPECT_EQ(separate.validation.size(), 4u);

  options.patch = 80;  // b.jpg is 64x64
  EXPECT_THROW(load_packed_splits(options), DataError);
  options.dataset = "folder:" + (tmp / "absent").string();
  EXPECT_THROW(load_packed_splits(options), DataError);
}

// The command line end to end on a folder of pictures: train, eval, show and sweep take
// it; a classifier refuses it (pictures carry no labels).
TEST(FolderDataset, TrainEvalShowAndSweepOnTheCommandLine) {
  test::TempDir tmp;
  for (int i = 0; i < 4; ++i)
    write_picture_atomic(tmp / "pics" / ("p" + std::to_string(i) + ".png"), test_picture(64, 48, 1 + i % 3, 8));
  const std::string dataset = "folder:" + (tmp / "pics").string();
  const fs::path run = tmp / "run";
  auto r = test::run_denoise({"train", "--dataset", dataset, "--patch", "16", "--epochs", "2", "--threads", "1",
                              "--verbose", "2", "--out", run.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_json(run / "config.json")["dataset"], dataset);
  EXPECT_EQ(read_json(run / "history.json").size(), 2u);

  r = test::run_denoise({"eval", run.string(), "--split", "validation"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto metrics = read_json(run / "metrics-validation.json");
  EXPECT_EQ(metrics["count"], read_json(run / "metrics.json")["count"]);  // the run's own validation patches
  EXPECT_DOUBLE_EQ(metrics["psnr"].get<double>(), read_json(run / "metrics.json")["psnr"].get<double>());

  r = test::run_denoise({"show", run.string(), "--split", "validation", "--count", "3", "--out",
                         (tmp / "show.png").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_image(tmp / "show.png").channels, 1);

  r = test::run_denoise({"sweep", "--dataset", dataset, "--patch", "16", "--optimizers", "adam", "--activations",
                         "relu", "--repeats", "1", "--epochs", "1", "--out", (tmp / "sweep").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_json(tmp / "sweep" / "adam-relu" / "run-1" / "config.json")["dataset"], dataset);

  r = test::run_denoise({"classify", "train", "--dataset", dataset, "--epochs", "1", "--out", (tmp / "c").string()});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--dataset must be a labelled dataset"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "c"));
}

}  // namespace
}  // namespace dn
