// The data library: IDX files (raw and gzip) and their failure messages,
// checksums, tar members, datasets and splits, noise, and PNG pictures.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/checksum.hpp"
#include "data/dataset.hpp"
#include "data/gzip.hpp"
#include "data/idx.hpp"
#include "data/noise.hpp"
#include "data/registry.hpp"
#include "data/stats.hpp"
#include "data/archive.hpp"
#include "io/png.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_bytes;

std::string be32(std::uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

// An IDX image file built by hand, independent of the library's writer.
std::string idx_images(std::uint32_t n, std::uint32_t h, std::uint32_t w, std::size_t payload_bytes) {
  std::string s = be32(0x803) + be32(n) + be32(h) + be32(w);
  for (std::size_t i = 0; i < payload_bytes; ++i) s.push_back(char(i % 256));
  return s;
}

std::string idx_labels(std::uint32_t n, std::size_t payload_bytes) {
  std::string s = be32(0x801) + be32(n);
  for (std::size_t i = 0; i < payload_bytes; ++i) s.push_back(char(i % 10));
  return s;
}

std::string gz(const std::string& raw) {
  const auto packed = gzip({reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
  return {packed.begin(), packed.end()};
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// Runs f, expecting a DataError whose message contains every one of parts.
template <class F>
void expect_data_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no DataError thrown";
  } catch (const DataError& e) {
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// Sets an environment variable for one scope, restoring the old value afterwards.
struct ScopedEnv {
  std::string name;
  std::string old;
  bool had = false;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) had = true, old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { had ? ::setenv(name.c_str(), old.c_str(), 1) : ::unsetenv(name.c_str()); }
};

// ---------------------------------------------------------------- IDX

TEST(Idx, ReadsHandBuiltRawAndGzipFilesAlike) {
  TempDir dir;
  const std::string images = idx_images(3, 2, 4, 24);
  write_bytes(dir / "raw", images);
  write_bytes(dir / "packed.gz", gz(images));
  write_bytes(dir / "packed-without-suffix", gz(images));  // gzip is found by its magic bytes, not the name
  for (const char* name : {"raw", "packed.gz", "packed-without-suffix"}) {
    const Tensor t = read_idx_images(dir / name);
    ASSERT_EQ(t.shape(), (Shape{3, 2, 4})) << name;
    for (std::size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i], float(i) / 255.0f) << name;
  }
  write_bytes(dir / "labels.gz", gz(idx_labels(5, 5)));
  EXPECT_EQ(read_idx_labels(dir / "labels.gz"), (std::vector<std::uint8_t>{0, 1, 2, 3, 4}));
}

TEST(Idx, WriterRoundTripsExactly) {
  TempDir dir;
  Tensor images({2, 3, 3});
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = float(i * 30 % 256) / 255.0f;
  const std::vector<std::uint8_t> labels{7, 3};
  for (bool compress : {false, true}) {
    write_idx_images(dir / "i", images, compress);
    write_idx_labels(dir / "l", labels, compress);
    EXPECT_EQ(is_gzip(read_file_bytes(dir / "i")), compress);
    const Tensor back = read_idx_images(dir / "i");
    ASSERT_EQ(back.shape(), images.shape());
    for (std::size_t i = 0; i < images.size(); ++i) EXPECT_EQ(back[i], images[i]);
    EXPECT_EQ(read_idx_labels(dir / "l"), labels);
  }
  EXPECT_EQ(fs::file_size(dir / "i"), read_file_bytes(dir / "i").size());  // no temp files left beside
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 2);
}

TEST(Idx, MissingFileNamesIt) {
  TempDir dir;
  expect_data_error([&] { read_idx_images(dir / "nope-idx3-ubyte"); }, {"nope-idx3-ubyte", "not found"});
}

TEST(Idx, WrongMagicNamesFileAndWhatWasFound) {
  TempDir dir;
  write_bytes(dir / "labels", idx_labels(4, 4));
  expect_data_error([&] { read_idx_images(dir / "labels"); },
                    {(dir / "labels").string(), "not an IDX image file", "IDX label file", "0x00000803"});
  write_bytes(dir / "junk", "hello world, not idx");
  expect_data_error([&] { read_idx_labels(dir / "junk"); }, {"junk", "magic 0x68656c6c", "0x00000801"});
}

TEST(Idx, TruncatedPayloadAndHeader) {
  TempDir dir;
  write_bytes(dir / "short", idx_images(10, 28, 28, 1000));
  expect_data_error([&] { read_idx_images(dir / "short"); },
                    {"short", "truncated", "10 images of 28x28", "only 1000 data bytes"});
  write_bytes(dir / "header", be32(0x803) + be32(10));
  expect_data_error([&] { read_idx_images(dir / "header"); }, {"header", "truncated", "too short"});
  write_bytes(dir / "tiny", "\x00\x00");
  expect_data_error([&] { read_idx_images(dir / "tiny"); }, {"tiny", "truncated"});
  write_bytes(dir / "labels", idx_labels(60000, 59999));
  expect_data_error([&] { read_idx_labels(dir / "labels"); }, {"labels", "truncated", "60000 labels"});
}

TEST(Idx, HugeHeaderCountsDoNotOverflow) {
  TempDir dir;
  write_bytes(dir / "huge", be32(0x803) + be32(0x7fffffff) + be32(0x7fffffff) + be32(0x7fffffff) + "abc");
  expect_data_error([&] { read_idx_images(dir / "huge"); }, {"huge", "truncated"});
  write_bytes(dir / "zero", idx_images(0, 28, 28, 0));
  expect_data_error([&] { read_idx_images(dir / "zero"); }, {"zero", "dimension 0 is 0"});
}

TEST(Idx, TrailingBytesAreRefused) {
  TempDir dir;
  write_bytes(dir / "long", idx_images(1, 2, 2, 6));
  expect_data_error([&] { read_idx_images(dir / "long"); }, {"long", "2 unexpected bytes"});
}

TEST(Idx, CorruptAndTruncatedGzip) {
  TempDir dir;
  std::string packed = gz(idx_images(50, 28, 28, 50 * 784));
  std::string damaged = packed;
  for (std::size_t i = 20; i < 60; ++i) damaged[i] = char(damaged[i] ^ 0x5a);
  write_bytes(dir / "damaged.gz", damaged);
  expect_data_error([&] { read_idx_images(dir / "damaged.gz"); }, {"damaged.gz", "corrupt gzip"});
  write_bytes(dir / "cut.gz", packed.substr(0, packed.size() / 2));
  expect_data_error([&] { read_idx_images(dir / "cut.gz"); }, {"cut.gz", "corrupt gzip", "truncated"});
  write_bytes(dir / "trailing.gz", packed + "xyz");
  expect_data_error([&] { read_idx_images(dir / "trailing.gz"); }, {"trailing.gz", "trailing garbage"});
}

TEST(Gzip, ConcatenatedMembersDecompressToTheWhole) {
  const std::string both = gz("hello, ") + gz("world");
  EXPECT_EQ(gunzip(bytes_of(both), "x"), bytes_of("hello, world"));
}

// ---------------------------------------------------------------- checksums and tar

TEST(Checksum, Sha256KnownAnswers) {
  EXPECT_EQ(sha256_hex(bytes_of("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(bytes_of("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(mnist_sha256("t10k-labels-idx1-ubyte"), "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2");
  EXPECT_TRUE(mnist_sha256("other").empty());
  expect_data_error([] { verify_sha256(bytes_of("abc"), mnist_sha256("train-labels-idx1-ubyte"), "my/file"); },
                    {"my/file", "SHA-256 mismatch", "expected 65a50cbbf4e906d7", "got ba7816bf8f01cfea"});
  verify_sha256(bytes_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "ok");
}

// A minimal ustar archive, written the way tar and npm write one.
std::string tar_entry(const std::string& path, const std::string& contents) {
  std::string h(512, '\0');
  h.replace(0, path.size(), path);
  h.replace(100, 7, "0000644");
  h.replace(108, 7, "0000000");
  h.replace(116, 7, "0000000");
  char size[12];
  std::snprintf(size, sizeof size, "%011o", unsigned(contents.size()));
  h.replace(124, 11, size);
  h.replace(136, 11, "00000000000");
  h[156] = '0';
  h.replace(257, 6, std::string("ustar\0", 6));
  h.replace(263, 2, "00");
  h.replace(148, 8, "        ");
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  h.replace(148, 7, std::string(chk, 6) + '\0');
  std::string data = contents;
  data.resize((contents.size() + 511) / 512 * 512, '\0');
  return h + data;
}

TEST(Archive, FindsMembersPlainOrGzippedAndRefusesDamage) {
  const std::string tar = tar_entry("package/package.json", "{}") + tar_entry("package/data/x", "hello") +
                          std::string(1024, '\0');
  for (const std::string& archive : {tar, gz(tar)}) {  // a .tar and the .tgz npm writes
    const auto found = find_archive_member(bytes_of(archive), "package/data/x", "pkg.tgz");
    ASSERT_TRUE(found);
    EXPECT_EQ(*found, bytes_of("hello"));
    EXPECT_FALSE(find_archive_member(bytes_of(archive), "package/data/y", "pkg.tgz"));
  }

  std::string damaged = tar;
  damaged[1024 + 148] = 'X';  // x's header checksum no longer reads
  expect_data_error([&] { find_archive_member(bytes_of(damaged), "package/data/x", "pkg.tgz"); },
                    {"pkg.tgz", "damaged archive"});
  const std::string cut = tar.substr(0, 512 + 512 + 3);  // x's header, then 3 of its 5 bytes
  expect_data_error([&] { find_archive_member(bytes_of(cut), "package/data/x", "pkg.tgz"); }, {"pkg.tgz", "archive"});
  expect_data_error([&] { find_archive_member(bytes_of(std::string(600, 'z')), "x", "pkg.tgz"); },
                    {"pkg.tgz", "not a tar archive"});
}

// ---------------------------------------------------------------- datasets

Dataset small_dataset(int n, int fill_offset) {
  Dataset d;
  d.images = Tensor({n, 1, 1});
  d.labels.resize(std::size_t(n));
  for (int i = 0; i < n; ++i) {
    d.images[std::size_t(i)] = float(i + fill_offset);
    d.labels[std::size_t(i)] = std::uint8_t(i % 10);
  }
  return d;
}

TEST(Dataset, SeedSplitsOfSixtyThousand) {
  const Dataset train = small_dataset(60000, 0), test = small_dataset(10000, 100000);
  const Splits s = make_splits(train, test);
  EXPECT_EQ(s.train.size(), 55000u);
  EXPECT_EQ(s.validation.size(), 5000u);
  EXPECT_EQ(s.test.size(), 10000u);
  EXPECT_EQ(s.train.images[0], 0.0f);
  EXPECT_EQ(s.train.images[54999], 54999.0f);
  EXPECT_EQ(s.validation.images[0], 55000.0f);  // the last 5,000 of the file
  EXPECT_EQ(s.validation.images[4999], 59999.0f);
  EXPECT_EQ(s.validation.labels[3], 55003u % 10);
  EXPECT_EQ(s.test.images[0], 100000.0f);
  EXPECT_EQ(s.train.images.shape(), (Shape{55000, 1, 1}));

  const Splits limited = make_splits(train, test, 100);
  EXPECT_EQ(limited.train.size(), 100u);
  EXPECT_EQ(limited.validation.size(), 100u);
  EXPECT_EQ(limited.test.size(), 100u);
  EXPECT_EQ(limited.validation.images[0], 55000.0f);  // the first N of each split
  EXPECT_EQ(make_splits(train, test, 7000).validation.size(), 5000u);
}

TEST(Dataset, SmallFilesKeepATwelfthForValidation) {
  const Splits s = make_splits(small_dataset(120, 0), small_dataset(30, 0));
  EXPECT_EQ(s.train.size(), 110u);
  EXPECT_EQ(s.validation.size(), 10u);
  EXPECT_EQ(make_splits(small_dataset(5, 0), small_dataset(1, 0)).validation.size(), 1u);
}

TEST(Dataset, SubsetCopiesARangeAndChecksBounds) {
  const Dataset d = small_dataset(10, 0);
  const Dataset s = subset(d, 3, 4);
  EXPECT_EQ(s.images.shape(), (Shape{4, 1, 1}));
  EXPECT_EQ(s.images[0], 3.0f);
  EXPECT_EQ(s.labels, (std::vector<std::uint8_t>{3, 4, 5, 6}));
  EXPECT_EQ(subset(d, 10, 0).size(), 0u);
  EXPECT_THROW(subset(d, 8, 3), std::out_of_range);
}

TEST(Dataset, SyntheticDigitsAreBinaryBalancedAndDeterministic) {
  const Dataset d = make_synthetic_digits(200, 7);
  ASSERT_EQ(d.images.shape(), (Shape{200, 28, 28}));
  for (std::size_t i = 0; i < d.size(); ++i) EXPECT_EQ(d.labels[i], i % 10);
  const DatasetStats s = dataset_stats(d);
  EXPECT_EQ(s.binary_accuracy_ceiling, 1.0);  // every pixel exactly 0 or 1
  EXPECT_GT(s.pixel_mean, 0.05);
  EXPECT_LT(s.pixel_mean, 0.5);
  for (std::size_t n : s.label_counts) EXPECT_EQ(n, 20u);
  for (std::size_t i = 0; i < d.size(); ++i) {  // every image has ink
    float ink = 0;
    for (int p = 0; p < 784; ++p) ink += d.images[i * 784 + std::size_t(p)];
    EXPECT_GE(ink, 20.0f) << i;
  }
  const Dataset again = make_synthetic_digits(200, 7), other = make_synthetic_digits(200, 8);
  int same = 0, differ = 0;
  for (std::size_t i = 0; i < d.images.size(); ++i) {
    same += d.images[i] == again.images[i];
    differ += d.images[i] != other.images[i];
  }
  EXPECT_EQ(same, int(d.images.size()));
  EXPECT_GT(differ, 1000);
}

TEST(Dataset, SyntheticDigitsAreLearnable) {
  // Softmax regression, a few epochs of plain SGD, classifies fresh images almost perfectly.
  const Dataset train = make_synthetic_digits(500, 1), test = make_synthetic_digits(500, 2);
  constexpr std::size_t P = 784, C = 10;
  std::vector<float> w(C * (P + 1), 0.0f);  // per class: 784 weights, then the bias
  const auto logits = [&](const float* x, float* z) {
    for (std::size_t c = 0; c < C; ++c) {
      z[c] = w[c * (P + 1) + P];
      for (std::size_t p = 0; p < P; ++p) z[c] += w[c * (P + 1) + p] * x[p];
    }
  };
  float z[C];
  for (int epoch = 0; epoch < 5; ++epoch)
    for (std::size_t i = 0; i < train.size(); ++i) {
      const float* x = train.images.data() + i * P;
      logits(x, z);
      const float top = *std::max_element(z, z + C);
      float sum = 0;
      for (float& v : z) sum += (v = std::exp(v - top));
      for (std::size_t c = 0; c < C; ++c) {
        const float g = 0.05f * (z[c] / sum - (c == train.labels[i] ? 1.0f : 0.0f));
        for (std::size_t p = 0; p < P; ++p) w[c * (P + 1) + p] -= g * x[p];
        w[c * (P + 1) + P] -= g;
      }
    }
  int correct = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    logits(test.images.data() + i * P, z);
    correct += std::size_t(std::max_element(z, z + C) - z) == test.labels[i];
  }
  EXPECT_GT(correct, 475);  // > 95% where chance is 10%
}

TEST(Dataset, FolderRoundTripRawAndGzip) {
  TempDir dir;
  const Dataset train = make_synthetic_digits(24, 1), test = make_synthetic_digits(12, 2);
  for (bool compress : {false, true}) {
    const fs::path folder = dir / (compress ? "gz" : "raw");
    write_data_folder(folder, train, test, compress);
    EXPECT_TRUE(fs::exists(folder / (std::string(kTrainImagesFile) + (compress ? ".gz" : ""))));
    const Splits s = load_splits({"mnist", folder.string(), 0, {}});
    EXPECT_EQ(s.train.size(), 22u);
    EXPECT_EQ(s.validation.size(), 2u);
    ASSERT_EQ(s.test.size(), 12u);
    for (std::size_t i = 0; i < test.images.size(); ++i) ASSERT_EQ(s.test.images[i], test.images[i]);
    EXPECT_EQ(s.test.labels, test.labels);
    EXPECT_EQ(load_splits({"mnist", folder.string(), 5, {}}).train.size(), 5u);
  }
}

TEST(Dataset, CountMismatchAndBadLabelsNameTheFiles) {
  TempDir dir;
  write_bytes(dir / "images", idx_images(3, 2, 2, 12));
  write_bytes(dir / "labels", idx_labels(4, 4));
  expect_data_error([&] { load_dataset_file_pair(dir / "images", dir / "labels"); },
                    {(dir / "images").string(), "3 images", (dir / "labels").string(), "4 labels"});
  write_bytes(dir / "labels3", be32(0x801) + be32(3) + std::string("\x01\x0c\x02", 3));
  expect_data_error([&] { load_dataset_file_pair(dir / "images", dir / "labels3"); },
                    {"labels3", "label 12 at index 1"});
}

TEST(Dataset, MissingDataSaysHowToFetchIt) {
  TempDir dir;
  expect_data_error([&] { load_splits({"mnist", (dir / "absent").string(), 0, {}}); },
                    {"absent", "not found", "denoise data fetch mnist --data-dir"});
  expect_data_error([&] { load_splits({"mnist", dir.path.string(), 0, {}}); },
                    {"missing train-images-idx3-ubyte (or train-images-idx3-ubyte.gz)", "denoise data fetch mnist"});
  EXPECT_THROW(load_splits({"kmnist", "", 0, {}}), UsageError);
}

TEST(Dataset, DefaultFoldersFollowDenoiseData) {
  TempDir dir;
  ScopedEnv env("DENOISE_DATA", dir.path.string());
  EXPECT_EQ(default_data_dir("mnist"), dir / "mnist");
  EXPECT_EQ(default_data_dir("fashion-mnist"), fs::path("/usr/share/datasets/fashion-mnist"));
  fs::create_directories(dir / "fashion-mnist");
  EXPECT_EQ(default_data_dir("fashion-mnist"), dir / "fashion-mnist");
  ::unsetenv("DENOISE_DATA");
  EXPECT_EQ(default_data_dir("mnist"), fs::path("data/mnist"));
  EXPECT_EQ(data_dir({"mnist", "elsewhere", 0, {}}), fs::path("elsewhere"));
}

TEST(Dataset, MnistInItsDefaultFolderIsVerified) {
  // Files named like MNIST's but with other contents: accepted through --data-dir,
  // refused in the default folder where `denoise data fetch` keeps the real ones.
  TempDir dir;
  ScopedEnv env("DENOISE_DATA", dir.path.string());
  write_data_folder(dir / "mnist", make_synthetic_digits(24, 1), make_synthetic_digits(12, 2));
  EXPECT_EQ(load_data_file({"mnist", (dir / "mnist").string(), 0, {}}, DataFile::test).size(), 12u);
  expect_data_error([&] { load_data_file({"mnist", "", 0, {}}, DataFile::test); },
                    {"t10k-images-idx3-ubyte", "SHA-256 mismatch", "expected 0fa7898d509279e4", "denoise data fetch mnist"});
}

TEST(DatasetRegistry, ListsEveryLoaderByName) {
  EXPECT_EQ(dataset_names(), (std::vector<std::string>{"mnist", "fashion-mnist"}));
  for (const std::string& name : dataset_names()) {
    const DatasetLoader& loader = dataset_loader(name);
    EXPECT_EQ(loader.name(), name);
    EXPECT_FALSE(loader.description().empty());
    EXPECT_EQ(loader.num_classes(), 10);
    EXPECT_EQ(loader.default_dir(), default_data_dir(name));
    EXPECT_NE(datasets_help().find(name + " (" + loader.description() + ")"), std::string::npos);
  }
}

TEST(DatasetRegistry, UnknownNameListsTheChoices) {
  for (const auto& unknown : std::vector<std::function<void()>>{
           [] { dataset_loader("foo"); }, [] { default_data_dir("foo"); }, [] { load_splits({"foo", "", 0, {}}); },
           [] { load_packed_splits({"foo", "", 0, {}}); }}) {
    try {
      unknown();
      ADD_FAILURE() << "accepted dataset 'foo'";
    } catch (const UsageError& e) {
      EXPECT_STREQ(e.what(), "dataset must be one of mnist, fashion-mnist or folder:PATH (got 'foo')");
    }
  }
}

TEST(DatasetRegistry, ClassesAndShapeComeFromTheData) {
  TempDir dir;
  write_data_folder(dir.path, make_synthetic_digits(24, 1), make_synthetic_digits(12, 2));
  for (const std::string& name : dataset_names()) {
    const DataOptions options{name, dir.path.string(), 0, {}};
    const Dataset test = load_data_file(options, DataFile::test);
    EXPECT_EQ(test.num_classes, 10);
    EXPECT_EQ(test.image_shape(), (Shape{28, 28, 1}));
    const Splits splits = load_splits(options);
    const PackedSplits packed = load_packed_splits(options);
    for (const Dataset* d : {&splits.train, &splits.validation, &splits.test}) EXPECT_EQ(d->num_classes, 10);
    for (const PackedDataset* d : {&packed.train, &packed.validation, &packed.test}) {
      EXPECT_EQ(d->num_classes, 10);
      EXPECT_EQ(d->image_shape(), (Shape{28, 28, 1}));
      EXPECT_EQ(d->channels(), 1);
    }
    EXPECT_EQ(packed.validation.size(), 2u);
    EXPECT_EQ(subset(test, 3, 4).num_classes, 10);
  }
  // Loaded through a loader directly, with the file's own height and width.
  Dataset tiny;
  tiny.images = Tensor({3, 5, 7});
  tiny.labels = {0, 9, 4};
  tiny.num_classes = 10;
  write_data_folder(dir / "tiny", tiny, tiny);
  const Dataset loaded = dataset_loader("mnist").load({dir / "tiny", false}, DataFile::train);
  EXPECT_EQ(loaded.image_shape(), (Shape{5, 7, 1}));
  EXPECT_EQ(loaded.labels, tiny.labels);
  const DatasetStats stats = dataset_stats(loaded);
  EXPECT_EQ(stats.label_counts.size(), 10u);
}

TEST(Noise, OneHelpStringForTheSpecForms) {
  EXPECT_STREQ(noise_spec_help(), "gaussian:F, salt-pepper:P, speckle:F, poisson:PEAK or none");
  try {
    parse_noise("blur:1");
    ADD_FAILURE() << "accepted blur:1";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(std::string("(expected ") + noise_spec_help() + ")"), std::string::npos);
  }
}

TEST(Stats, CountsMeanAndCeiling) {
  Dataset d;
  d.images = Tensor({2, 1, 2});
  d.images[0] = 0.0f, d.images[1] = 1.0f, d.images[2] = 0.5f, d.images[3] = 0.5f;
  d.labels = {3, 3};
  d.num_classes = 10;
  const DatasetStats s = dataset_stats(d);
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.height, 1);
  EXPECT_EQ(s.width, 2);
  EXPECT_DOUBLE_EQ(s.pixel_mean, 0.5);
  EXPECT_DOUBLE_EQ(s.binary_accuracy_ceiling, 0.5);
  EXPECT_EQ(s.label_counts[3], 2u);
  const auto j = to_json(s);
  EXPECT_EQ(j["label_counts"].size(), 10u);
  EXPECT_EQ(j["count"], 2);
}

// ---------------------------------------------------------------- noise

TEST(Noise, ParsesEveryKindAndRoundTrips) {
  EXPECT_EQ(parse_noise("gaussian"), (NoiseSpec{NoiseSpec::Kind::gaussian, 0.5}));
  EXPECT_EQ(parse_noise("gaussian:0.25"), (NoiseSpec{NoiseSpec::Kind::gaussian, 0.25}));
  EXPECT_EQ(parse_noise("salt-pepper:1"), (NoiseSpec{NoiseSpec::Kind::salt_pepper, 1.0}));
  EXPECT_EQ(parse_noise("speckle:0"), (NoiseSpec{NoiseSpec::Kind::speckle, 0.0}));
  EXPECT_EQ(parse_noise("poisson:1e2"), (NoiseSpec{NoiseSpec::Kind::poisson, 100.0}));
  EXPECT_EQ(parse_noise("none"), NoiseSpec{});
  for (const char* text : {"gaussian:0.5", "salt-pepper:0.2", "speckle:0.3", "poisson:10", "none"}) {
    EXPECT_EQ(parse_noise(text).str(), text);
    EXPECT_EQ(parse_noise(parse_noise(text).str()), parse_noise(text));
  }
}

TEST(Noise, RefusesBadSpecsQuotingThem) {
  for (const char* text : {"gauss:0.5", "gaussian:-0.1", "gaussian:nan", "gaussian:inf", "gaussian:", "gaussian:0.5x",
                           "salt-pepper:1.5", "salt-pepper:-0.1", "salt-pepper", "speckle:-1", "poisson:0",
                           "poisson:-3", "none:1", "", ":0.5"}) {
    try {
      parse_noise(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(text) + "'"), std::string::npos) << e.what();
    }
  }
}

Tensor constant_images(int n, float value) { return Tensor({n, 28, 28}, value); }

struct Moments {
  double mean = 0, std = 0;
};
Moments moments(const Tensor& t) {
  double s = 0, s2 = 0;
  for (std::size_t i = 0; i < t.size(); ++i) s += t[i], s2 += double(t[i]) * t[i];
  const double mean = s / double(t.size());
  return {mean, std::sqrt(s2 / double(t.size()) - mean * mean)};
}

TEST(Noise, GaussianStatistics) {
  Tensor noisy;
  add_noise(parse_noise("gaussian:0.1"), constant_images(100, 0.5f), noisy, 1);
  Moments m = moments(noisy);  // 5 sigma from the clip limits: no clipping effect
  EXPECT_NEAR(m.mean, 0.5, 0.002);
  EXPECT_NEAR(m.std, 0.1, 0.002);
  add_noise(parse_noise("gaussian:0.5"), constant_images(100, 0.5f), noisy, 1);
  m = moments(noisy);
  // Residual 0.5*clip(z, -1, 1): std 0.5*sqrt(P(|z|<1) - 2 phi(1) + P(|z|>1)) = 0.3592; a third of pixels clip.
  EXPECT_NEAR(m.mean, 0.5, 0.005);
  EXPECT_NEAR(m.std, 0.3592, 0.004);
  std::size_t clipped = 0;
  for (std::size_t i = 0; i < noisy.size(); ++i) clipped += noisy[i] == 0.0f || noisy[i] == 1.0f;
  EXPECT_NEAR(double(clipped) / double(noisy.size()), 0.3173, 0.01);
}

TEST(Noise, SaltPepperStatistics) {
  Tensor noisy;
  add_noise(parse_noise("salt-pepper:0.2"), constant_images(100, 0.5f), noisy, 3);
  std::size_t salt = 0, pepper = 0, kept = 0;
  for (std::size_t i = 0; i < noisy.size(); ++i) {
    salt += noisy[i] == 1.0f;
    pepper += noisy[i] == 0.0f;
    kept += noisy[i] == 0.5f;
  }
  EXPECT_EQ(salt + pepper + kept, noisy.size());
  EXPECT_NEAR(double(salt + pepper) / double(noisy.size()), 0.2, 0.006);
  EXPECT_NEAR(double(salt) / double(salt + pepper), 0.5, 0.02);
}

TEST(Noise, SpeckleScalesWithThePixel) {
  Tensor noisy;
  add_noise(parse_noise("speckle:0.2"), constant_images(100, 0.5f), noisy, 4);
  const Moments m = moments(noisy);
  EXPECT_NEAR(m.mean, 0.5, 0.002);
  EXPECT_NEAR(m.std, 0.1, 0.002);
  add_noise(parse_noise("speckle:0.9"), constant_images(10, 0.0f), noisy, 4);
  EXPECT_EQ(moments(noisy).std, 0.0);  // black stays black
}

TEST(Noise, PoissonCountsPhotons) {
  Tensor noisy;
  add_noise(parse_noise("poisson:50"), constant_images(100, 0.2f), noisy, 5);
  const Moments m = moments(noisy);  // Poisson(10)/50: mean 0.2, std sqrt(10)/50
  EXPECT_NEAR(m.mean, 0.2, 0.002);
  EXPECT_NEAR(m.std, std::sqrt(10.0) / 50.0, 0.002);
  for (std::size_t i = 0; i < noisy.size(); i += 97) EXPECT_FLOAT_EQ(std::round(noisy[i] * 50.0f), noisy[i] * 50.0f);
}

TEST(Noise, NoneCopiesAndInPlaceWorks) {
  const Dataset d = make_synthetic_digits(4, 1);
  Tensor noisy;
  add_noise(parse_noise("none"), d.images, noisy, 1);
  for (std::size_t i = 0; i < noisy.size(); ++i) ASSERT_EQ(noisy[i], d.images[i]);
  Tensor expected, in_place = d.images;
  add_noise(parse_noise("gaussian:0.3"), d.images, expected, 9);
  add_noise(parse_noise("gaussian:0.3"), in_place, in_place, 9);
  for (std::size_t i = 0; i < noisy.size(); ++i) ASSERT_EQ(in_place[i], expected[i]);
}

TEST(Noise, ReproducibleBySeedAndImageIndex) {
  const Dataset d = make_synthetic_digits(40, 1);
  for (const char* spec : {"gaussian:0.5", "salt-pepper:0.3", "speckle:0.5", "poisson:20"}) {
    const NoiseSpec noise = parse_noise(spec);
    Tensor a, b, c, tail;
    add_noise(noise, d.images, a, 11);
    add_noise(noise, d.images, b, 11);
    add_noise(noise, d.images, c, 12);
    // The second half on its own, with first_index = 20, is the second half of the whole.
    add_noise(noise, subset(d, 20, 20).images, tail, 11, 20);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i], b[i]) << spec;
      differ += a[i] != c[i];
    }
    EXPECT_GT(differ, 100u) << spec;
    for (std::size_t i = 0; i < tail.size(); ++i) ASSERT_EQ(tail[i], a[20 * 784 + i]) << spec;
  }
}

TEST(Noise, IndependentOfThreadCount) {
  const Dataset d = make_synthetic_digits(64, 1);
  const int threads = omp_get_max_threads();
  for (const char* spec : {"gaussian:0.5", "salt-pepper:0.3", "speckle:0.5", "poisson:20"}) {
    Tensor one, two;
    omp_set_num_threads(1);
    add_noise(parse_noise(spec), d.images, one, 5);
    omp_set_num_threads(2);
    add_noise(parse_noise(spec), d.images, two, 5);
    for (std::size_t i = 0; i < one.size(); ++i) ASSERT_EQ(one[i], two[i]) << spec;
  }
  omp_set_num_threads(threads);
}

// ---------------------------------------------------------------- pictures

TEST(Png, WriteThenReadBack) {
  TempDir dir;
  Image gray(5, 3, 1);
  for (std::size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = std::uint8_t(i * 17);
  write_png_atomic(dir / "gray.png", gray);
  const Image back = read_image(dir / "gray.png");
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.channels, 1);
  EXPECT_EQ(back.pixels, gray.pixels);

  Image rgb(2, 2, 3);
  fill_rect(rgb, 1, 0, 1, 2, Rgb{200, 10, 30});
  write_png_atomic(dir / "sub" / "rgb.png", rgb);  // creates the folder
  EXPECT_EQ(read_image(dir / "sub" / "rgb.png").pixels, rgb.pixels);
  EXPECT_EQ(read_image(dir / "sub" / "rgb.png", 1).channels, 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 2);  // no temp files
}

TEST(Png, UnreadableImagesNameTheFile) {
  TempDir dir;
  write_bytes(dir / "fake.png", "not a picture at all");
  expect_data_error([&] { read_image(dir / "fake.png"); }, {"fake.png", "cannot read as an image"});
  expect_data_error([&] { read_image(dir / "absent.png"); }, {"absent.png", "not found"});
}

TEST(Png, TensorConversionsRoundTrip) {
  Tensor t({2, 3});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = float(i * 40) / 255.0f;
  t[5] = 7.0f;  // clipped to white
  const Image image = image_from_tensor(t);
  EXPECT_EQ(image.width, 3);
  EXPECT_EQ(image.height, 2);
  EXPECT_EQ(image.pixels[5], 255);
  const Tensor back = tensor_from_image(image);
  EXPECT_EQ(back.shape(), (Shape{2, 3}));
  for (std::size_t i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(back[i], t[i]);
}

TEST(Png, TextInksInsideItsBox) {
  Image image(60, 30, 1);
  draw_text(image, 2, 3, "Ag 7", 2, kWhite);
  int ink = 0, outside = 0;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const bool on = image.pixels[std::size_t(y * image.width + x)] != 0;
      ink += on;
      outside += on && (x < 2 || x >= 2 + text_width("Ag 7", 2) || y < 3 || y >= 3 + text_height(2));
    }
  EXPECT_GT(ink, 50);
  EXPECT_EQ(outside, 0);
  draw_text(image, 55, 25, "clipped at the border", 3, kWhite);  // must not write out of bounds
}

TEST(Png, GridLaysOutScaledRowsWithLabels) {
  const Dataset d = make_synthetic_digits(3, 1);
  const Image grid = make_grid({d.images, d.images}, {"clean", "noisy"}, 2);
  const Image bare = make_grid({d.images}, {}, 3);
  EXPECT_EQ(bare.height, 1 + 28 * 3 + 1);
  EXPECT_EQ(bare.width, 1 + 3 * (28 * 3 + 1));
  EXPECT_EQ(grid.height, 1 + 2 * (28 * 2 + 1));
  EXPECT_GT(grid.width, 1 + 3 * (28 * 2 + 1) + text_width("noisy", 1));
  // Pixel (x, y) of digit n in the bare grid shows pixel (x / 3, y / 3) of image n.
  for (int n = 0; n < 3; ++n)
    for (int y = 0; y < 84; y += 5)
      for (int x = 0; x < 84; x += 5) {
        const float v = d.images[std::size_t(n * 784 + (y / 3) * 28 + x / 3)];
        ASSERT_EQ(bare.pixels[std::size_t((1 + y) * bare.width + 1 + n * 85 + x)], v == 1.0f ? 255 : 0);
      }
  EXPECT_THROW(make_grid({d.images, Tensor({2, 5, 5})}, {}, 2), std::invalid_argument);
}

}  // namespace
}  // namespace dn
