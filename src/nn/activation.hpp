#pragma once
// Activations by their Keras names. The functions themselves (forward in place,
// backward through the output) are in kernels/activation.hpp, where the conv and
// dense GEMM epilogues fuse them; the standalone layer is nn/layers/activation_layer.hpp.
#include <string>

#include "kernels/activation.hpp"

namespace dn {

// "linear", "relu", "sigmoid", "tanh", "softmax"; UsageError listing them otherwise.
Activation parse_activation(const std::string& name);
std::string activation_name(Activation act);

}  // namespace dn
