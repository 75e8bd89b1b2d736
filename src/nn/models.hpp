#pragma once
// Built-in models, by name:
//   seed        the seed report's 3,279-parameter conv autoencoder (encoder + decoder),
//               hidden activation selectable, sigmoid output; built at (28, 28), it
//               runs on images of any size (fully convolutional; odd sizes lose their
//               last row or column to the pooling, as in Keras).
//   dncnn       a residual DnCNN-style denoiser (6 convolutions, 16 channels) that
//               predicts the noise and subtracts it; linear output, fully convolutional.
//   unet        a small two-level U-Net (12/24/48 channels) with concatenated skips;
//               sigmoid output, fully convolutional (sides divisible by 4 keep their size).
//   unet-large  the classic U-Net's shape: two convolutions per level, 16/32/64 channels.
//   unet-xl     unet-large's shape at 24/48/96 channels (2.25x its FLOPs).
//   classifier  Keras's simple MNIST convnet (34,826 parameters), softmax over 10 digits;
//               input (28, 28).
//   classifier-large  a larger convnet for digits under heavy noise (468,682 parameters).
//   classifier-deep   deeper still: six convolutions in three stages of 32, 64 and 128
//               channels (814,058 parameters, 2.7x classifier-large's work per image).
#include <memory>
#include <string>
#include <vector>

#include "nn/activation.hpp"
#include "nn/sequential.hpp"

namespace dn {

struct ModelSpec {
  std::string name = "seed";
  std::string activation = "relu";  // hidden activation (seed model)
  int height = 28, width = 28;
};

// Builds (creates and initialises parameters with seed) and names the model.
// UsageError for an unknown name or activation.
std::unique_ptr<Sequential> make_model(const ModelSpec& spec, std::uint64_t seed);

// Names accepted by make_model, for help texts.
std::vector<std::string> model_names();
// The digit classifiers among them (the names that start with "classifier").
std::vector<std::string> classifier_names();

}  // namespace dn
