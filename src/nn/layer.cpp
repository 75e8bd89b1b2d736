#include "nn/layer.hpp"

namespace dn {

std::size_t Layer::param_count() {
  std::size_t n = 0;
  for (Param* p : params()) n += p->value.size();  // a container's params() includes its children's
  return n;
}

}  // namespace dn
