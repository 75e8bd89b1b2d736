#include "nn/sequential.hpp"

#include <map>
#include <stdexcept>


namespace dn {

Sequential::Sequential(std::string name) { name_ = std::move(name); }

Sequential& Sequential::add(std::unique_ptr<Layer> layer) {
  layers_.push_back(std::move(layer));
  return *this;
}

std::unique_ptr<Layer> Sequential::clone() const {
  auto copy = std::make_unique<Sequential>(name_);
  for (const auto& layer : layers_) copy->add(layer->clone());
  copy->input_shape_ = input_shape_;
  copy->output_shape_ = output_shape_;
  copy->outputs_.resize(outputs_.size());
  copy->grads_.resize(grads_.size());
  return copy;
}

Shape Sequential::build(const Shape& input_shape, Rng& rng) {
  if (layers_.empty()) throw std::logic_error("Sequential '" + name_ + "' has no layers");
  input_shape_ = input_shape;
  Shape shape = input_shape;
  for (auto& layer : layers_) shape = layer->build(shape, rng);
  // Neighbours share the backward of a ReLU between them; the first layer's input and the
  // last one's output are the container's to pair (off until it does).
  layers_.front()->set_relu_taken(false);
  layers_.back()->set_relu_left(false);
  for (std::size_t i = 0; i + 1 < layers_.size(); ++i) {
    const bool fused = layers_[i]->ends_in_relu() && layers_[i + 1]->takes_relu_derivative();
    layers_[i]->set_relu_left(fused);
    layers_[i + 1]->set_relu_taken(fused);
  }
  output_shape_ = shape;
  outputs_.resize(layers_.size());
  grads_.resize(layers_.size());
  return shape;
}

// x (N, in...) -> y (N, out...), layer by layer; each layer's output is kept for the
// backward pass. Fast inference over many samples is nn/inference.hpp's predict().
void Sequential::forward(const Tensor& x, Tensor& y, bool training) {
  const std::size_t n = layers_.size();
  const Tensor* in = &x;
  for (std::size_t i = 0; i < n; ++i) {
    Tensor& out = (i + 1 == n) ? y : outputs_[i];
    // A layer and the next in one pass where the kernels fuse them (a convolution and its
    // pooling): the first's output then only has its shape.
    if (i + 1 < n) {
      Tensor& next_out = (i + 2 == n) ? y : outputs_[i + 1];
      if (layers_[i]->forward_with_next(*layers_[i + 1], *in, out, next_out, training)) {
        in = &next_out;
        ++i;
        continue;
      }
    }
    layers_[i]->forward(*in, out, training);
    in = &out;
  }
}

// Whether the layer or any layer under it has parameters.
static bool trainable(Layer& layer) { return !layer.params().empty(); }

void Sequential::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const std::size_t n = layers_.size();
  // When the caller wants no input gradient, the gradient stops at the first layer
  // with parameters: its input gradient (a whole data-gradient convolution for the
  // seed's first layer) and the layers before it would only be thrown away.
  std::size_t first = 0;
  if (!dx)
    while (first + 1 < n && !trainable(*layers_[first])) ++first;
  auto in = [&](std::size_t i) -> const Tensor& { return i == 0 ? x : outputs_[i - 1]; };
  auto out = [&](std::size_t i) -> const Tensor& { return i + 1 == n ? y : outputs_[i]; };
  auto d_in = [&](std::size_t i) { return i == first ? (i == 0 ? dx : nullptr) : &grads_[i - 1]; };
  const Tensor* d_out = &dy;
  for (std::size_t i = n; i-- > first;) {
    // A layer and the one before in one pass where the kernels fuse them (a convolution
    // and its pooling): the later one's input gradient is never made.
    if (i > first && layers_[i - 1]->backward_with_next(*layers_[i], in(i - 1), out(i - 1), out(i), *d_out,
                                                        d_in(i - 1))) {
      d_out = d_in(--i);
      continue;
    }
    layers_[i]->backward(in(i), out(i), *d_out, d_in(i));
    d_out = d_in(i);
  }
}

std::vector<Param*> Sequential::params() {
  std::vector<Param*> all;
  for (auto& layer : layers_)
    for (Param* p : layer->params()) all.push_back(p);
  return all;
}

std::vector<Layer*> Sequential::children() {
  std::vector<Layer*> out;
  for (auto& layer : layers_) out.push_back(layer.get());
  return out;
}

nlohmann::json Sequential::config() const {
  nlohmann::json layers = nlohmann::json::array();
  for (auto& layer : layers_)
    layers.push_back({{"class_name", layer->type()}, {"config", layer->config()}});
  return {{"name", name_}, {"layers", layers}};
}

nlohmann::json Sequential::random_state() const {
  nlohmann::json state = nlohmann::json::object();
  for (const auto& layer : layers_) {
    nlohmann::json s = layer->random_state();
    if (!s.is_null() && !(s.is_object() && s.empty())) state[layer->name()] = std::move(s);
  }
  return state;
}

void Sequential::set_random_state(const nlohmann::json& state) {
  for (auto& layer : layers_)
    if (state.contains(layer->name())) layer->set_random_state(state.at(layer->name()));
}

static void assign_names(Layer& layer, std::map<std::string, int>& counts) {
  for (Layer* child : layer.children()) assign_names(*child, counts);
  if (!layer.name().empty()) return;
  const std::string prefix = layer.name_prefix();
  const int k = counts[prefix]++;
  layer.set_name(k == 0 ? prefix : prefix + "_" + std::to_string(k));
}

void assign_default_names(Layer& root) {
  std::map<std::string, int> counts;
  assign_names(root, counts);
}

static void collect_named(Layer& layer, std::vector<std::pair<std::string, Param*>>& out) {
  const auto children = layer.children();
  if (!children.empty()) {
    for (Layer* child : children) collect_named(*child, out);
    return;
  }
  for (Param* p : layer.params()) out.emplace_back(layer.name() + "/" + p->name, p);
}

std::vector<std::pair<std::string, Param*>> named_params(Layer& root) {
  std::vector<std::pair<std::string, Param*>> out;
  collect_named(root, out);
  return out;
}

void copy_weights(Layer& from, Layer& to) {
  const auto source = named_params(from), target = named_params(to);
  if (source.size() != target.size())
    throw std::invalid_argument("copy_weights: " + std::to_string(source.size()) + " parameters into " +
                                std::to_string(target.size()));
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i].second->value.shape() != target[i].second->value.shape())
      throw std::invalid_argument("copy_weights: " + source[i].first + " is " +
                                  shape_str(source[i].second->value.shape()) + ", " + target[i].first + " is " +
                                  shape_str(target[i].second->value.shape()));
    target[i].second->value = source[i].second->value;
  }
}

}  // namespace dn
