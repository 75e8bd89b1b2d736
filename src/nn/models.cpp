#include "nn/models.hpp"

#include "core/error.hpp"
#include "nn/layers/layers.hpp"

namespace dn {

std::vector<std::string> model_names() {
  return {"seed", "dncnn", "unet", "unet-large", "unet-xl", "classifier", "classifier-large", "classifier-deep"};
}

std::vector<std::string> classifier_names() {
  std::vector<std::string> names;
  for (const std::string& name : model_names())
    if (name.rfind("classifier", 0) == 0) names.push_back(name);
  return names;
}

// The seed report's autoencoder, layer for layer (its Keras code is quoted in
// the report): encoder and decoder are Sequentials inside a Sequential. Its Reshapes
// copy height and width from the input (0), so that it runs on images of any size.
static std::unique_ptr<Sequential> seed_model(const ModelSpec& spec) {
  const Activation act = parse_activation(spec.activation);
  auto encoder = std::make_unique<Sequential>("encoder");
  encoder->add(std::make_unique<Reshape>(Shape{0, 0, 1}))
      .add(std::make_unique<Conv2D>(12, 3, 1, Padding::same, act))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(14, 3, 1, Padding::same, act));
  auto decoder = std::make_unique<Sequential>("decoder");
  decoder->add(std::make_unique<Conv2DTranspose>(12, 3, 2, Padding::same, act))
      .add(std::make_unique<Conv2DTranspose>(1, 3, 1, Padding::same, Activation::sigmoid))
      .add(std::make_unique<Reshape>(Shape{0, 0}));
  auto model = std::make_unique<Sequential>("conv_ae");
  model->add(std::move(encoder)).add(std::move(decoder));
  return model;
}

// DnCNN (Zhang et al. 2017) cut to MNIST's size and the CPU budget: five 3x3
// convolutions of 24 channels predict the noise, which is subtracted from the input
// (Residual, mode subtract). No batch normalisation; linear output, trained with
// mean_squared_error. Receptive field 11x11.
static std::unique_ptr<Sequential> dncnn_model() {
  auto noise = std::make_unique<Sequential>("noise_estimate");
  for (int i = 0; i < 5; ++i) noise->add(std::make_unique<Conv2D>(16, 3, 1, Padding::same, Activation::relu));
  noise->add(std::make_unique<Conv2D>(1, 3, 1, Padding::same, Activation::linear));
  auto model = std::make_unique<Sequential>("dncnn");
  model->add(std::make_unique<Reshape>(Shape{0, 0, 1}))
      .add(std::make_unique<Residual>(std::move(noise), Residual::Mode::subtract))
      .add(std::make_unique<Reshape>(Shape{0, 0}));
  return model;
}

// A small two-level U-Net: 12 channels at full size, 24 at half, 48 at quarter; each
// level's features are concatenated with the upsampled (stride-2 transposed
// convolution) features of the level below (SkipConcatenate). Sigmoid output, as the
// seed's, for binary_crossentropy. Receptive field about 40x40: the whole digit.
static std::unique_ptr<Sequential> unet_model() {
  auto bottom = std::make_unique<Sequential>("level2");
  bottom->add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(48, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2DTranspose>(24, 3, 2, Padding::same, Activation::relu));
  auto middle = std::make_unique<Sequential>("level1");
  middle->add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(24, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<SkipConcatenate>(std::move(bottom)))
      .add(std::make_unique<Conv2D>(24, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2DTranspose>(12, 3, 2, Padding::same, Activation::relu));
  auto model = std::make_unique<Sequential>("unet");
  model->add(std::make_unique<Reshape>(Shape{0, 0, 1}))
      .add(std::make_unique<Conv2D>(12, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<SkipConcatenate>(std::move(middle)))
      .add(std::make_unique<Conv2D>(12, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2D>(1, 3, 1, Padding::same, Activation::sigmoid))
      .add(std::make_unique<Reshape>(Shape{0, 0}));
  return model;
}

// The classic U-Net's shape at MNIST's scale: two 3x3 convolutions per level, `full`
// channels at full size, twice that at half, four times at quarter, concatenated skips
// as unet's. unet-large (16/32/64) has about 3x unet's FLOPs per pixel; unet-xl
// (24/48/96) 2.25x unet-large's, for the strongest digits denoiser in 15 minutes.
static std::unique_ptr<Sequential> unet_two_conv_model(const std::string& name, int full) {
  auto conv = [](int filters) { return std::make_unique<Conv2D>(filters, 3, 1, Padding::same, Activation::relu); };
  const int half = 2 * full, quarter = 4 * full;
  auto bottom = std::make_unique<Sequential>("level2");
  bottom->add(std::make_unique<MaxPooling2D>(2)).add(conv(quarter)).add(conv(quarter));
  bottom->add(std::make_unique<Conv2DTranspose>(half, 3, 2, Padding::same, Activation::relu));
  auto middle = std::make_unique<Sequential>("level1");
  middle->add(std::make_unique<MaxPooling2D>(2)).add(conv(half)).add(conv(half));
  middle->add(std::make_unique<SkipConcatenate>(std::move(bottom))).add(conv(half)).add(conv(half));
  middle->add(std::make_unique<Conv2DTranspose>(full, 3, 2, Padding::same, Activation::relu));
  auto model = std::make_unique<Sequential>(name);
  model->add(std::make_unique<Reshape>(Shape{0, 0, 1})).add(conv(full)).add(conv(full));
  model->add(std::make_unique<SkipConcatenate>(std::move(middle))).add(conv(full)).add(conv(full));
  model->add(std::make_unique<Conv2D>(1, 3, 1, Padding::same, Activation::sigmoid))
      .add(std::make_unique<Reshape>(Shape{0, 0}));
  return model;
}

// Keras's "simple MNIST convnet" example (34,826 parameters).
static std::unique_ptr<Sequential> classifier_model(const ModelSpec& spec, std::uint64_t seed) {
  auto model = std::make_unique<Sequential>("classifier");
  model->add(std::make_unique<Reshape>(Shape{spec.height, spec.width, 1}))
      .add(std::make_unique<Conv2D>(32, 3, 1, Padding::valid, Activation::relu))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(64, 3, 1, Padding::valid, Activation::relu))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Flatten>())
      .add(std::make_unique<Dropout>(0.5, seed))
      .add(std::make_unique<Dense>(10, Activation::softmax));
  return model;
}

// Digits under heavy noise (about 469k parameters): a 5x5 first layer that
// averages more pixels, two 3x3 layers at 12x12, and a hidden dense layer. At
// gaussian:0.5 it errs about half as often as Keras's convnet, for about 3x the
// work per image.
static std::unique_ptr<Sequential> classifier_large_model(const ModelSpec& spec, std::uint64_t seed) {
  auto model = std::make_unique<Sequential>("classifier_large");
  model->add(std::make_unique<Reshape>(Shape{spec.height, spec.width, 1}))
      .add(std::make_unique<Conv2D>(32, 5, 1, Padding::valid, Activation::relu))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(64, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2D>(64, 3, 1, Padding::valid, Activation::relu))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Flatten>())
      .add(std::make_unique<Dense>(256, Activation::relu))
      .add(std::make_unique<Dropout>(0.5, seed))
      .add(std::make_unique<Dense>(10, Activation::softmax));
  return model;
}

// Digits under the heaviest noise: classifier-large's 5x5 first layer, then
// three stages of 3x3 convolutions (32, 64, 128 channels) that see the whole
// digit before the dense layers.
static std::unique_ptr<Sequential> classifier_deep_model(const ModelSpec& spec, std::uint64_t seed) {
  auto model = std::make_unique<Sequential>("classifier_deep");
  model->add(std::make_unique<Reshape>(Shape{spec.height, spec.width, 1}))
      .add(std::make_unique<Conv2D>(32, 5, 1, Padding::valid, Activation::relu))
      .add(std::make_unique<Conv2D>(32, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(64, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2D>(64, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<MaxPooling2D>(2))
      .add(std::make_unique<Conv2D>(128, 3, 1, Padding::same, Activation::relu))
      .add(std::make_unique<Conv2D>(128, 3, 1, Padding::valid, Activation::relu))
      .add(std::make_unique<Flatten>())
      .add(std::make_unique<Dense>(256, Activation::relu))
      .add(std::make_unique<Dropout>(0.5, seed))
      .add(std::make_unique<Dense>(10, Activation::softmax));
  return model;
}

std::unique_ptr<Sequential> make_model(const ModelSpec& spec, std::uint64_t seed) {
  std::unique_ptr<Sequential> model;
  if (spec.name == "seed")
    model = seed_model(spec);
  else if (spec.name == "dncnn")
    model = dncnn_model();
  else if (spec.name == "unet")
    model = unet_model();
  else if (spec.name == "unet-large")
    model = unet_two_conv_model("unet_large", 16);
  else if (spec.name == "unet-xl")
    model = unet_two_conv_model("unet_xl", 24);
  else if (spec.name == "classifier")
    model = classifier_model(spec, seed);
  else if (spec.name == "classifier-large")
    model = classifier_large_model(spec, seed);
  else if (spec.name == "classifier-deep")
    model = classifier_deep_model(spec, seed);
  else {
    const std::vector<std::string> names = model_names();
    std::string expected = names.front();  // "a, b or c"
    for (std::size_t i = 1; i < names.size(); ++i) expected += (i + 1 == names.size() ? " or " : ", ") + names[i];
    throw UsageError("unknown model '" + spec.name + "' (expected " + expected + ")");
  }
  assign_default_names(*model);
  Rng rng(seed);
  model->build({spec.height, spec.width}, rng);
  return model;
}

}  // namespace dn
