// safetensors: bit-exact round trips, the byte layout, a file written by hand, corrupt
// files (each error names the file), and load_into's report of every mismatch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "io/safetensors.hpp"
#include "support/test_support.hpp"

namespace dn {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_bytes;

float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::string le64(std::uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// A file from a JSON header (padded to 8 bytes) and a data section.
std::string file_bytes(const std::string& header, const std::string& data) {
  std::string h = header;
  h.append((8 - h.size() % 8) % 8, ' ');
  return le64(h.size()) + h + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

// Expects a DataError whose message names the file and contains `problem`.
void expect_load_error(const fs::path& path, const std::string& problem) {
  try {
    load_safetensors(path);
    ADD_FAILURE() << "no error for " << problem;
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
  }
}

TEST(Safetensors, RoundTripIsBitExact) {
  TempDir dir;
  Tensor special({3, 4});
  const std::uint32_t bits[] = {0x7fc00000u, 0x7fc12345u, 0xffbfffffu, 0x7f800001u,  // NaNs, one signalling
                                0x7f800000u, 0xff800000u,                             // +-inf
                                0x00000001u, 0x807fffffu,                             // denormals
                                0x80000000u, 0x7f7fffffu, 0x3f800000u, 0xbf000000u};  // -0, max, 1, -0.5
  for (std::size_t i = 0; i < 12; ++i) special[i] = from_bits(bits[i]);
  Tensor kernel({3, 3, 1, 12}), bias({12}), scalar{Shape{}}, empty({0, 5});
  for (std::size_t i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<float>(i) * 0.37f - 19.0f;
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = 1.0f / static_cast<float>(i + 1);
  scalar[0] = 42.5f;
  const std::map<std::string, std::string> metadata = {
      {"format", "denoise"}, {"config", R"({"a": [1, 2], "quote": "\"x\""})"}, {"unicode", "σ = 1.5 µs"}};

  const fs::path path = dir / "sub/folder/model.safetensors";  // folders are created
  save_safetensors(path,
                   {{"special", &special}, {"conv2d/kernel", &kernel}, {"conv2d/bias", &bias}, {"scalar", &scalar},
                    {"empty", &empty}},
                   metadata);
  EXPECT_FALSE(fs::exists(path.string() + ".tmp." + std::to_string(::getpid())));

  const auto loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 5u);
  EXPECT_TRUE(same_bits(loaded.at("special"), special));
  EXPECT_TRUE(same_bits(loaded.at("conv2d/kernel"), kernel));
  EXPECT_TRUE(same_bits(loaded.at("conv2d/bias"), bias));
  EXPECT_TRUE(same_bits(loaded.at("scalar"), scalar));
  EXPECT_TRUE(same_bits(loaded.at("empty"), empty));
  EXPECT_EQ(read_safetensors_metadata(path), metadata);
}

// The layout Python's safetensors expects: u64 header length, a JSON header padded with
// spaces so the data starts 8-byte aligned, tensors back to back in the given order.
TEST(Safetensors, ByteLayout) {
  TempDir dir;
  Tensor a({2}), b({1, 3});
  a[0] = 1.0f;
  a[1] = -2.0f;
  b[0] = 3.0f;
  b[1] = 4.0f;
  b[2] = 5.0f;
  const fs::path path = dir / "m.safetensors";
  save_safetensors(path, {{"b", &b}, {"a", &a}}, {{"k", "v"}});
  const auto bytes = read_file_bytes(path);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  EXPECT_EQ((8 + n) % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 20);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["k"], "v");
  EXPECT_EQ(j["b"]["dtype"], "F32");
  EXPECT_EQ(j["b"]["shape"], nlohmann::json({1, 3}));
  EXPECT_EQ(j["b"]["data_offsets"], nlohmann::json({0, 12}));
  EXPECT_EQ(j["a"]["data_offsets"], nlohmann::json({12, 20}));
  float first;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  EXPECT_EQ(first, 3.0f);
}

// Written byte by byte as another program would: keys in any order, metadata last.
TEST(Safetensors, HandWrittenFileLoads) {
  TempDir dir;
  std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("z":{"dtype":"F32","shape":[],"data_offsets":[8,12]},"__metadata__":{"k":"v"}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes = le64(header.size()) + header;
  const unsigned char data[] = {0x00, 0x00, 0x80, 0x3f,   // 1.0f
                                0x00, 0x00, 0x20, 0xc0,   // -2.5f
                                0x00, 0x00, 0xc0, 0x7f};  // NaN
  bytes.append(reinterpret_cast<const char*>(data), sizeof data);
  write_bytes(dir / "hand.safetensors", bytes);

  const auto t = load_safetensors(dir / "hand.safetensors");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.at("w").shape(), (Shape{2}));
  EXPECT_EQ(t.at("w")[0], 1.0f);
  EXPECT_EQ(t.at("w")[1], -2.5f);
  EXPECT_EQ(t.at("z").shape(), Shape{});
  EXPECT_TRUE(std::isnan(t.at("z")[0]));
  EXPECT_EQ(read_safetensors_metadata(dir / "hand.safetensors").at("k"), "v");
}

TEST(Safetensors, CorruptFilesNameTheFileAndTheProblem) {
  TempDir dir;
  const std::string one = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string good = file_bytes(one, floats({1.0f, 2.0f}));
  struct Case {
    const char* name;
    std::string bytes;
    const char* problem;
  };
  const Case cases[] = {
      {"empty", "", "too short"},
      {"short", "\x05\x00\x00", "too short"},
      {"huge_header", le64(1ull << 62) + "{}", "runs past the end of the file"},
      {"truncated_header", good.substr(0, 20), "runs past the end of the file"},
      {"truncated_data", good.substr(0, good.size() - 3), "truncated file"},
      {"not_json", file_bytes("{not json", ""), "not valid JSON"},
      {"not_object", file_bytes("[1, 2]", ""), "not a JSON object"},
      {"zero_header", le64(0), "not a JSON object"},
      {"unknown_dtype", file_bytes(R"({"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", floats({1, 2})),
       "unknown dtype \"Q7\""},
      {"f16", file_bytes(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", std::string(4, '\0')),
       "only F32 is supported"},
      {"size_mismatch", file_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})),
       "needs 12"},
      {"negative_dim", file_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", floats({1, 2})),
       "invalid shape"},
      {"reversed", file_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", floats({1, 2})),
       "end before they begin"},
      {"out_of_range", file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", floats({1, 2})),
       "truncated file"},
      {"overlap",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  floats({1, 2, 3})),
       "overlap"},
      {"gap", file_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", floats({1, 2})), "gap"},
      {"trailing", file_bytes(one, floats({1, 2, 3})), "belong to no tensor"},
      {"no_offsets", file_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", floats({1, 2})), "data_offsets"},
      {"bad_metadata", file_bytes(R"({"__metadata__":{"k":3}})", ""), "not a string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path path = dir / (std::string(c.name) + ".safetensors");
    write_bytes(path, c.bytes);
    expect_load_error(path, c.problem);
  }
  expect_load_error(dir / "missing.safetensors", "not found");
}

TEST(Safetensors, LoadIntoFillsTheModelsOwnBuffers) {
  TempDir dir;
  Tensor k({3, 3, 1, 2}), b({2});
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<float>(i);
  b[0] = 0.5f;
  b[1] = -0.5f;
  save_safetensors(dir / "m.safetensors", {{"conv2d/kernel", &k}, {"conv2d/bias", &b}});

  Tensor k2({3, 3, 1, 2}), b2({2});
  const float* address = k2.data();
  load_into(dir / "m.safetensors", {{"conv2d/bias", &b2}, {"conv2d/kernel", &k2}});
  EXPECT_TRUE(same_bits(k2, k));
  EXPECT_TRUE(same_bits(b2, b));
  EXPECT_EQ(k2.data(), address);
}

// Another model's file: every mismatch in one message, and nothing loaded.
TEST(Safetensors, LoadIntoListsEveryMismatch) {
  TempDir dir;
  Tensor kernel({3, 3, 1, 12}), bias({10}), extra({4});
  save_safetensors(dir / "other.safetensors", {{"dense/kernel", &kernel}, {"dense/bias", &bias}, {"extra", &extra}});
  std::string f16 = R"({"conv2d/kernel":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})";
  write_bytes(dir / "half.safetensors", file_bytes(f16, std::string(4, '\0')));

  Tensor want_kernel({3, 3, 1, 12}, 7.0f), want_bias({12}, 7.0f), conv({3, 3, 1, 4}, 7.0f);
  try {
    load_into(dir / "other.safetensors",
              {{"conv2d/kernel", &conv}, {"dense/kernel", &want_kernel}, {"dense/bias", &want_bias}});
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "other.safetensors").string() +
                                         ": does not match this model: missing 'conv2d/kernel'; 'dense/bias' has "
                                         "shape (10,) but the model expects (12,); unexpected 'extra'");
  }
  EXPECT_EQ(want_kernel[0], 7.0f);  // untouched, although its own entry matched

  Tensor half({2});
  try {
    load_into(dir / "half.safetensors", {{"conv2d/kernel", &half}});
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'conv2d/kernel' has dtype F16 but the model expects F32"), std::string::npos)
        << e.what();
  }
}

TEST(Safetensors, BadNamesAreRejectedOnSave) {
  TempDir dir;
  Tensor t({1});
  EXPECT_THROW(save_safetensors(dir / "a", {{"x", &t}, {"x", &t}}), std::invalid_argument);
  EXPECT_THROW(save_safetensors(dir / "a", {{"__metadata__", &t}}), std::invalid_argument);
  EXPECT_THROW(save_safetensors(dir / "a", {{"", &t}}), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "a"));
}

}  // namespace
}  // namespace dn
