#pragma once
// Models as Keras describes them (get_config / from_config, model.to_json): a model
// saved as its JSON plus its weights can be rebuilt without knowing which built-in
// model it was.
//
//   {"class_name": "Sequential",
//    "config": {"name": "conv_ae", "layers": [{"class_name": "Conv2D", "config": {"name": "conv2d", ...}}, ...]},
//    "build_input_shape": [null, 28, 28]}
//
// A nested Sequential is a layer like any other: {"class_name": "Sequential", "config":
// {"name": ..., "layers": [...]}}. JSON null stands for Keras's None: the batch axis, and
// any free axis (kNone) of the build shape.
#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "nn/sequential.hpp"

namespace dn {

// The model's to_json() structure above, from its layers' config() and its build shape.
nlohmann::json model_to_json(Layer& model);

// One layer, not built, from {"class_name": ..., "config": {...}}: Sequential (with its
// layers), Conv2D, Conv2DTranspose, MaxPooling2D, Dense, Dropout, Reshape, Flatten,
// Activation. Arguments Keras gives defaults may be left out; keys it does not know
// are ignored. DataError naming the layer, the argument and the value for an unknown
// class or a missing, mistyped or out-of-range argument.
std::unique_ptr<Layer> layer_from_config(const nlohmann::json& class_name_and_config);

// model_to_json's model, its layers named as saved (unnamed ones get Keras's default
// names), built at build_input_shape with fresh weights from seed: the caller loads
// the saved weights afterwards. DataError as layer_from_config's, or for a document
// that is not a Sequential with a build_input_shape.
std::unique_ptr<Sequential> model_from_json(const nlohmann::json& j, std::uint64_t seed);

}  // namespace dn
