#pragma once
// predictions.png of a classifier run.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/tensor.hpp"
#include "nn/layer.hpp"

namespace dn {

// A row of the first count images [N, H, W], each scaled up, with the model's
// predicted class below: green when right, red with the true class when wrong.
void write_predictions_picture(Layer& model, const Tensor& images, const std::vector<std::uint8_t>& labels, int count,
                               const std::filesystem::path& png);

}  // namespace dn
