// safetensors (io/safetensors.hpp): the reader takes a path, so the input goes through a
// scratch file; load_safetensors and read_safetensors_metadata check the whole file.
#include "fuzz_common.hpp"
#include "io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = dn::fuzz::scratch_file(data, size, ".safetensors");
  dn::fuzz::expect_documented_errors([&] { dn::load_safetensors(path); });
  dn::fuzz::expect_documented_errors([&] { dn::read_safetensors_metadata(path); });
  // A small model's expected tensors: a match fills them, anything else is one DataError.
  dn::Tensor kernel({2, 3}), bias({3});
  dn::fuzz::expect_documented_errors([&] { dn::load_into(path, {{"dense/kernel", &kernel}, {"dense/bias", &bias}}); });
  return 0;
}
