// A run folder's JSON documents: config.json (DenoiserConfig, ClassifierConfig) and
// model.json (model_from_json), read as read_json reads them: a parse error is its DataError.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "nn/model_config.hpp"
#include "train/classifier_config.hpp"
#include "train/denoiser_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::parse_error&) {
    return 0;  // read_json's DataError
  }
  dn::fuzz::expect_documented_errors([&] { dn::DenoiserConfig::from_json(j).validate(); });
  dn::fuzz::expect_documented_errors([&] { dn::ClassifierConfig::from_json(j).validate(); });
  dn::fuzz::expect_documented_errors([&] { dn::model_from_json(j, 0); });
  return 0;
}
