#include "nn/summary.hpp"

#include <algorithm>
#include <vector>

namespace dn {

std::string with_commas(std::size_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Keras's print_summary: line length 65, columns ending at 29, 55 and 65;
// each field is cut to its column and padded with spaces.
static std::string row(const std::vector<std::string>& fields) {
  static const std::size_t positions[] = {29, 55, 65};
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) line.back() = ' ';  // Keras overwrites the column's last character
    line += fields[i];
    line = line.substr(0, positions[i]);
    line.resize(positions[i], ' ');
  }
  // Keras leaves trailing spaces; we drop them so diffs and terminals stay clean.
  line.erase(line.find_last_not_of(' ') + 1);
  return line + "\n";
}

static std::string output_shape_str(const Shape& s) {
  std::string out = "(None";
  for (int d : s) out += ", " + (d == kNone ? std::string("None") : std::to_string(d));
  return out + ")";
}

std::string summary(Layer& model, bool nested) {
  const std::string rule(65, '_');
  const std::string double_rule(65, '=');
  std::string out = "Model: \"" + model.name() + "\"\n" + rule + "\n";
  out += row({"Layer (type)", "Output Shape", "Param #"});
  out += double_rule + "\n";
  const auto children = model.children();
  for (std::size_t i = 0; i < children.size(); ++i) {
    Layer* layer = children[i];
    out += row({layer->name() + " (" + layer->type() + ")", output_shape_str(layer->output_shape()),
                std::to_string(layer->param_count())});
    out += (i + 1 == children.size() ? double_rule : rule) + "\n";
  }
  const std::size_t total = model.param_count();
  out += "Total params: " + with_commas(total) + "\n";
  out += "Trainable params: " + with_commas(total) + "\n";
  out += "Non-trainable params: 0\n" + rule + "\n";
  if (nested) {
    for (Layer* layer : children)
      if (!layer->children().empty()) out.append("\n").append(summary(*layer, true));
  }
  return out;
}

}  // namespace dn
