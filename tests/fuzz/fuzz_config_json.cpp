// A run folder's JSON documents: config.json (DenoiserConfig, ClassifierConfig) and
// model.json (model_from_json), read through read_json as a run folder reads them.
#include <nlohmann/json.hpp>

#include "core/file_io.hpp"
#include "fuzz_common.hpp"
#include "nn/model_config.hpp"
#include "train/classifier_config.hpp"
#include "train/denoiser_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j;
  bool parsed = false;
  dn::fuzz::expect_documented_errors([&] {
    j = dn::read_json(dn::fuzz::scratch_file(data, size, ".json"));
    parsed = true;
  });
  if (!parsed) return 0;
  dn::fuzz::expect_documented_errors([&] { dn::DenoiserConfig::from_json(j).validate(); });
  dn::fuzz::expect_documented_errors([&] { dn::ClassifierConfig::from_json(j).validate(); });
  dn::fuzz::expect_documented_errors([&] { dn::model_from_json(j, 0); });
  return 0;
}
