#include "dist/communicator.hpp"

namespace dn::dist {

namespace {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void broadcast(float*, std::size_t, int) override {}
  void allreduce_sum(float*, std::size_t) override {}
  void allreduce_sum(double*, std::size_t) override {}
  std::vector<std::string> gather(const std::string& text) override { return {text}; }
  void barrier() override {}
};

}  // namespace

Communicator& local() {
  static LocalCommunicator communicator;
  return communicator;
}

}  // namespace dn::dist
