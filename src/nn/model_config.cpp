#include "nn/model_config.hpp"

#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <fmt/core.h>

#include "core/error.hpp"
#include "nn/layers/layers.hpp"

namespace dn {

// An integer that an int holds: nlohmann's get<int>() would wrap 4294967297 to 1.
static bool is_int(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT_MAX);
  if (!v.is_number_integer()) return false;
  const std::int64_t i = v.get<std::int64_t>();
  return i >= INT_MIN && i <= INT_MAX;
}

nlohmann::json model_to_json(Layer& model) {
  nlohmann::json shape = nlohmann::json::array({nullptr});  // the batch axis
  for (int d : model.input_shape()) shape.push_back(d == kNone ? nlohmann::json(nullptr) : nlohmann::json(d));
  return {{"class_name", model.type()}, {"config", model.config()}, {"build_input_shape", shape}};
}

namespace {

// A layer's config, read with errors that name the layer, the argument and the value.
class Args {
 public:
  Args(std::string class_name, const nlohmann::json& config) : class_name_(std::move(class_name)), config_(config) {
    if (!config_.is_object())
      throw DataError(fmt::format("{} layer: config must be an object (got {})", class_name_, config_.dump()));
    if (config_.contains("name") && !config_["name"].is_string()) fail("name", "a string");
  }

  std::string name() const { return config_.contains("name") ? config_["name"].get<std::string>() : ""; }
  bool has(const char* key) const { return config_.contains(key) && !config_[key].is_null(); }

  const nlohmann::json& get(const char* key) const {
    if (!config_.contains(key))
      throw DataError(fmt::format("{}: missing argument '{}'", layer(), key));
    return config_[key];
  }
  int integer(const char* key) const {
    const nlohmann::json& v = get(key);
    if (!is_int(v)) fail(key, "an integer");
    return v.get<int>();
  }
  double number(const char* key) const {
    const nlohmann::json& v = get(key);
    if (!v.is_number()) fail(key, "a number");
    return v.get<double>();
  }
  std::string string(const char* key) const {
    const nlohmann::json& v = get(key);
    if (!v.is_string()) fail(key, "a string");
    return v.get<std::string>();
  }
  // 3 or [3, 5], as Keras takes kernel_size, strides and pool_size.
  Size2 size2(const char* key) const {
    const nlohmann::json& v = get(key);
    if (is_int(v)) return Size2(v.get<int>());
    if (!v.is_array() || v.size() != 2 || !is_int(v[0]) || !is_int(v[1]))
      fail(key, "an integer or a list of two integers");
    return Size2(v[0].get<int>(), v[1].get<int>());
  }
  Shape shape(const char* key) const {
    const nlohmann::json& v = get(key);
    Shape out;
    if (v.is_array())
      for (const auto& d : v) {
        if (!is_int(d)) fail(key, "a list of integers");
        out.push_back(d.get<int>());
      }
    else
      fail(key, "a list of integers");
    return out;
  }
  std::uint64_t seed(const char* key) const {
    const nlohmann::json& v = get(key);
    if (!v.is_number_unsigned()) fail(key, "a non-negative integer or null");
    return v.get<std::uint64_t>();
  }
  // A string argument parsed by a function that throws UsageError (padding, activation).
  template <class Parse>
  auto parsed(const char* key, Parse parse) const {
    const std::string text = string(key);
    try {
      return parse(text);
    } catch (const UsageError&) {
      fail(key, "one of the names it takes");
    }
  }

  [[noreturn]] void fail(const char* key, const char* expected) const {
    throw DataError(fmt::format("{}: argument '{}' must be {} (got {})", layer(), key, expected, config_[key].dump()));
  }
  std::string layer() const {
    const std::string n = config_.contains("name") && config_["name"].is_string() ? name() : "";
    return n.empty() ? class_name_ + " layer" : fmt::format("{} layer '{}'", class_name_, n);
  }

 private:
  std::string class_name_;
  const nlohmann::json& config_;
};

Padding padding_arg(const Args& a) { return a.has("padding") ? a.parsed("padding", parse_padding) : Padding::valid; }
Activation activation_arg(const Args& a, const char* key) { return a.parsed(key, parse_activation); }
Activation optional_activation(const Args& a) {
  return a.has("activation") ? activation_arg(a, "activation") : Activation::linear;
}
Size2 strides_arg(const Args& a) { return a.has("strides") ? a.size2("strides") : Size2(1); }

std::unique_ptr<Layer> sequential_from(const Args& a) {
  const nlohmann::json& layers = a.get("layers");
  if (!layers.is_array()) a.fail("layers", "a list of layer configs");
  auto model = std::make_unique<Sequential>();
  for (const auto& layer : layers) model->add(layer_from_config(layer));
  return model;
}

// The one inner layer a skip connection wraps.
std::unique_ptr<Layer> inner_from(const Args& a) {
  const nlohmann::json& inner = a.get("layer");
  if (!inner.is_object()) a.fail("layer", "a layer config {\"class_name\", \"config\"}");
  return layer_from_config(inner);
}

using Factory = std::function<std::unique_ptr<Layer>(const Args&)>;

// Keras's class names and the constructor arguments their get_config() lists.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"Sequential", sequential_from},
      {"Conv2D",
       [](const Args& a) -> std::unique_ptr<Layer> {
         return std::make_unique<Conv2D>(a.integer("filters"), a.size2("kernel_size"), strides_arg(a), padding_arg(a),
                                         optional_activation(a));
       }},
      {"Conv2DTranspose",
       [](const Args& a) -> std::unique_ptr<Layer> {
         return std::make_unique<Conv2DTranspose>(a.integer("filters"), a.size2("kernel_size"), strides_arg(a),
                                                  padding_arg(a), optional_activation(a));
       }},
      {"MaxPooling2D",
       [](const Args& a) -> std::unique_ptr<Layer> {
         const Size2 pool = a.has("pool_size") ? a.size2("pool_size") : Size2(2);
         const std::optional<Size2> strides = a.has("strides") ? std::optional(a.size2("strides")) : std::nullopt;
         return std::make_unique<MaxPooling2D>(pool, strides, padding_arg(a));
       }},
      {"Dense",
       [](const Args& a) -> std::unique_ptr<Layer> {
         return std::make_unique<Dense>(a.integer("units"), optional_activation(a));
       }},
      {"Dropout",
       [](const Args& a) -> std::unique_ptr<Layer> {
         const std::optional<std::uint64_t> seed = a.has("seed") ? std::optional(a.seed("seed")) : std::nullopt;
         return std::make_unique<Dropout>(a.number("rate"), seed);
       }},
      {"Reshape",
       [](const Args& a) -> std::unique_ptr<Layer> { return std::make_unique<Reshape>(a.shape("target_shape")); }},
      {"Residual",
       [](const Args& a) -> std::unique_ptr<Layer> {
         return std::make_unique<Residual>(inner_from(a), a.parsed("mode", parse_residual_mode));
       }},
      {"SkipConcatenate",
       [](const Args& a) -> std::unique_ptr<Layer> { return std::make_unique<SkipConcatenate>(inner_from(a)); }},
      {"Flatten", [](const Args&) -> std::unique_ptr<Layer> { return std::make_unique<Flatten>(); }},
      {"Activation",
       [](const Args& a) -> std::unique_ptr<Layer> {
         return std::make_unique<ActivationLayer>(activation_arg(a, "activation"));
       }},
  };
  return table;
}

}  // namespace

std::unique_ptr<Layer> layer_from_config(const nlohmann::json& class_name_and_config) {
  const nlohmann::json& j = class_name_and_config;
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string() || !j.contains("config"))
    throw DataError(fmt::format("a layer needs \"class_name\" and \"config\" (got {})", j.dump()));
  const std::string class_name = j["class_name"].get<std::string>();
  const auto& table = factories();
  const auto found = table.find(class_name);
  if (found == table.end()) {
    std::string known;
    for (const auto& [name, factory] : table) known += (known.empty() ? "" : ", ") + name;
    throw DataError(fmt::format("unknown layer class '{}' (known: {})", class_name, known));
  }
  const Args args(class_name, j["config"]);
  std::unique_ptr<Layer> layer;
  try {
    layer = found->second(args);
  } catch (const UsageError& e) {  // a constructor's range check: here the config is the bad input
    throw DataError(fmt::format("{}: {}", args.layer(), e.what()));
  }
  layer->set_name(args.name());
  return layer;
}

std::unique_ptr<Sequential> model_from_json(const nlohmann::json& j, std::uint64_t seed) {
  if (!j.is_object() || j.value("class_name", nlohmann::json()) != "Sequential")
    throw DataError(fmt::format("a model needs \"class_name\": \"Sequential\" (got {})",
                                j.is_object() ? j.value("class_name", nlohmann::json()).dump() : j.dump()));
  const nlohmann::json shape = j.value("build_input_shape", nlohmann::json());
  Shape input;
  bool ok = shape.is_array() && !shape.empty() && shape[0].is_null();
  for (std::size_t i = 1; ok && i < shape.size(); ++i) {
    ok = shape[i].is_null() || (is_int(shape[i]) && shape[i].get<int>() >= 1);
    if (ok) input.push_back(shape[i].is_null() ? kNone : shape[i].get<int>());
  }
  if (!ok)
    throw DataError(fmt::format("model: build_input_shape must be [null, sizes >= 1 or null...] (got {})",
                                shape.dump()));
  std::unique_ptr<Layer> layer = layer_from_config(j);
  std::unique_ptr<Sequential> model(static_cast<Sequential*>(layer.release()));  // class_name checked above
  assign_default_names(*model);
  Rng rng(seed);
  try {
    model->build(input, rng);
  } catch (const UsageError& e) {
    throw DataError(fmt::format("model '{}' cannot be built at {}: {}", model->name(), shape_str(input), e.what()));
  } catch (const std::logic_error& e) {  // a Sequential without layers (found by fuzz_config_json)
    throw DataError(fmt::format("model '{}' cannot be built: {}", model->name(), e.what()));
  }
  return model;
}

}  // namespace dn
