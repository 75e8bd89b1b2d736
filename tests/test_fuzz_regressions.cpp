// One test per defect the libFuzzer targets (tests/fuzz/, scripts/fuzz.sh) found: each
// replays the crashing input kept in tests/fuzz/corpus/<target>/ through the library
// call that failed, and checks that it now ends in the documented error.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/gzip.hpp"
#include "data/idx.hpp"
#include "io/safetensors.hpp"
#include "nn/model_config.hpp"
#include "train/classifier_config.hpp"
#include "train/denoiser_config.hpp"

// operator new below is malloc and operator delete free, which g++ cannot see when it
// inlines them: its mismatched new/delete warning is a false alarm here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// The largest single allocation since the last reset: memory bombs asked for gigabytes
// at once, which a test can see without having the memory fail.
static std::atomic<std::size_t> largest_allocation{0};

void* operator new(std::size_t n) {
  for (std::size_t seen = largest_allocation.load(); n > seen && !largest_allocation.compare_exchange_weak(seen, n);) {
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

std::vector<std::uint8_t> corpus_file(const std::string& target, const std::string& name) {
  return dn::read_file_bytes(std::filesystem::path(DENOISE_SOURCE_DIR) / "tests/fuzz/corpus" / target / name);
}

// fuzz_idx: a 35-byte damaged gzip whose trailer declares 2.4 GB made gunzip reserve all of
// it before inflating a byte (src/data/gzip.cpp trusted the trailer's size); an IDX file
// read from disk goes through gunzip.
TEST(FuzzRegressions, GunzipDoesNotTrustTheTrailerSize) {
  const auto bytes = corpus_file("idx", "crash-gzip-reserve-4gb");
  ASSERT_EQ(bytes.size(), 35u);
  largest_allocation = 0;
  EXPECT_THROW(dn::gunzip(bytes, "crash.gz"), dn::DataError);
  EXPECT_LT(largest_allocation.load(), 1u << 20);  // was 2466250772
  const auto path = std::filesystem::path(testing::TempDir()) / "crash-gzip-reserve-4gb.idx.gz";
  dn::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
  largest_allocation = 0;
  EXPECT_THROW(dn::read_idx_images(path), dn::DataError);
  EXPECT_LT(largest_allocation.load(), 1u << 20);
}

// fuzz_safetensors: a header with a number JSON cannot hold as a double (8E8888) escaped
// as nlohmann's out_of_range and ended the program: src/io/safetensors.cpp caught only
// parse_error. read_json (src/core/file_io.cpp), behind every run folder's JSON, had the same gap.
TEST(FuzzRegressions, JsonNumberOverflowIsADataError) {
  const auto bytes = corpus_file("safetensors", "crash-json-number-overflow");
  const auto dir = std::filesystem::path(testing::TempDir());
  dn::write_file_atomic(dir / "overflow.safetensors", std::string(bytes.begin(), bytes.end()));
  EXPECT_THROW(dn::load_safetensors(dir / "overflow.safetensors"), dn::DataError);
  EXPECT_THROW(dn::read_safetensors_metadata(dir / "overflow.safetensors"), dn::DataError);
  dn::write_file_atomic(dir / "overflow.json", R"({"epochs": 1E400})");
  EXPECT_THROW(dn::read_json(dir / "overflow.json"), dn::DataError);
}

// fuzz_config_json: "epochs": 2.5e57 in a config.json went through nlohmann's get<int>(), a
// plain cast of a double out of int's range (undefined behaviour; UBSan stops there). The
// configs' integers (src/train/*_config.cpp, controls.cpp, checkpoint.cpp, history.cpp) are
// now read by json_integer (src/core/json_integer.hpp), which refuses what the type cannot hold.
TEST(FuzzRegressions, ConfigIntegersOutOfRangeAreDataErrors) {
  const auto bytes = corpus_file("config_json", "crash-epochs-float-overflow.json");
  const auto j = nlohmann::json::parse(bytes.begin(), bytes.end());
  EXPECT_THROW(dn::ClassifierConfig::from_json(j), dn::DataError);
  auto denoiser = dn::DenoiserConfig().to_json();
  for (const char* key : {"epochs", "batch_size", "limit", "seed", "early_stopping", "verbose"}) {
    for (const nlohmann::json& bad : {nlohmann::json(2.5e57), nlohmann::json(-1.0e30), nlohmann::json(1.5),
                                      nlohmann::json(std::uint64_t{1} << 40), nlohmann::json("3")}) {
      auto broken = denoiser;
      broken[key] = bad;
      if ((std::string(key) == "limit" || std::string(key) == "seed") && bad == nlohmann::json(std::uint64_t{1} << 40))
        continue;  // 2^40 fits a size_t and a uint64
      EXPECT_THROW(dn::DenoiserConfig::from_json(broken), dn::DataError) << key << " = " << bad.dump();
    }
  }
  // Integral floats were accepted before and still are.
  denoiser["epochs"] = 3.0;
  EXPECT_EQ(dn::DenoiserConfig::from_json(denoiser).epochs, 3);
}

// model.json integers beyond int's range were wrapped (4294967297 units read as 1).
TEST(FuzzRegressions, ModelConfigIntegersBeyondIntAreDataErrors) {
  for (const char* dense : {R"({"units": 4294967297})", R"({"units": -4294967295})", R"({"units": 1e10})"}) {
    const nlohmann::json j = {{"class_name", "Sequential"},
                              {"config", {{"name", "m"},
                                          {"layers", {{{"class_name", "Flatten"}, {"config", nlohmann::json::object()}},
                                                      {{"class_name", "Dense"}, {"config", nlohmann::json::parse(dense)}}}}}},
                              {"build_input_shape", {nullptr, 4}}};
    EXPECT_THROW(dn::model_from_json(j, 0), dn::DataError) << dense;
  }
  const nlohmann::json wrapped_size = {{"class_name", "Sequential"},
                                       {"config", {{"name", "m"}, {"layers", nlohmann::json::array()}}},
                                       {"build_input_shape", {nullptr, 4294967297ULL}}};
  EXPECT_THROW(dn::model_from_json(wrapped_size, 0), dn::DataError);
}

}  // namespace
