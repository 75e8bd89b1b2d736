#pragma once
// The fit loop (Keras's model.fit): mini-batches over shuffled samples,
// validation at each epoch's end, a History, and callbacks that report progress
// (fit itself prints nothing).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/packed_images.hpp"
#include "dist/communicator.hpp"
#include "nn/inference.hpp"
#include "train/losses.hpp"
#include "train/optimizers.hpp"
#include "train/callbacks.hpp"
#include "train/history.hpp"

namespace dn {

// What fit does when a batch's loss is NaN or infinite: stop after that epoch
// (skipping the batch's update), or carry on. History::diverged records it either way.
enum class OnNaN { stop, continue_training };
// "stop" or "continue"; ArgumentError "on_nan must be stop or continue (got 'x')".
OnNaN parse_on_nan(const std::string& text);
const char* on_nan_name(OnNaN on_nan);

// The metric of one batch (Metric's comment says how each is computed).
double batch_metric(Metric metric, const Tensor& y_pred, const Tensor& y_true);

struct FitOptions {
  int epochs = 10;
  // Epochs already trained (Keras's initial_epoch): fit runs initial_epoch + 1 ...
  // epochs, as an uninterrupted fit would have run them, for resuming a checkpoint.
  int initial_epoch = 0;
  // The history of those epochs, which stateful callbacks replay (TrainBegin::resumed).
  const History* resumed = nullptr;
  int batch_size = 32;
  std::uint64_t seed = 0;  // shuffling order
  bool shuffle = true;
  OnNaN on_nan = OnNaN::stop;
  Metric metric = Metric::binary_accuracy;
  // Called in order at each hook; not owned, and must outlive the call to fit.
  std::vector<Callback*> callbacks;
  // Synchronous data parallelism over the communicator's processes (null: alone).
  // Every process runs fit with the same data, shuffle and options; each takes its
  // contiguous share of every global batch of batch_size, the gradients are averaged
  // with one allreduce per step, and rank 0's initial weights are broadcast first.
  // Losses, metrics and validation are the global batch's, the same on every rank, so
  // training equals a single process's up to the order of float sums (Dropout's masks
  // included, while the last batch of an epoch has a sample for every process).
  // ArgumentError when the world size does not divide batch_size. Callbacks must
  // decide alike on every process (they see the same logs); stop_now is not shared.
  dist::Communicator* communicator = nullptr;
};

// ArgumentError("batch_size", ...) unless the job's processes split a batch evenly.
void check_batch_split(int batch_size, const dist::Communicator& communicator);

// What fit batches from: N samples of one shape, read as float a batch at a
// time. Both kinds are views: the data must outlive them.
class Samples {
 public:
  virtual ~Samples() = default;
  virtual std::size_t size() const = 0;
  // Samples order[begin, begin + count) into out, resized to [count, sample dims...].
  virtual void gather(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count,
                      Tensor& out) const = 0;
  // Samples [begin, begin + count).
  virtual void slice(std::size_t begin, std::size_t count, Tensor& out) const = 0;
  // A hint: samples order[begin, begin + count) are gathered next (past the end: left out).
  virtual void prefetch(const std::vector<std::size_t>& /*order*/, std::size_t /*begin*/,
                        std::size_t /*count*/) const {}
};

class TensorSamples final : public Samples {
 public:
  explicit TensorSamples(const Tensor& t) : t_(&t) {}
  std::size_t size() const override { return t_->rank() ? static_cast<std::size_t>(t_->dim(0)) : 0; }
  void gather(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count,
              Tensor& out) const override {
    gather_rows(*t_, order, begin, count, out);
  }
  void slice(std::size_t begin, std::size_t count, Tensor& out) const override { slice_rows(*t_, begin, count, out); }

 private:
  const Tensor* t_;
};

// Images kept compact; decoded to float a batch at a time.
class PackedSamples final : public Samples {
 public:
  explicit PackedSamples(const PackedImages& images) : images_(&images) {}
  std::size_t size() const override { return images_->size(); }
  void gather(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count,
              Tensor& out) const override {
    images_->gather(order, begin, count, out);
  }
  void slice(std::size_t begin, std::size_t count, Tensor& out) const override {
    images_->slice(begin, count, out);
  }
  void prefetch(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count) const override {
    images_->prefetch(order, begin, count);
  }

 private:
  const PackedImages* images_;
};

struct Evaluation {
  double loss = 0, metric = 0;
};

// Mean loss and metric over a whole set, weighted by batch size as Keras does. With a
// communicator, each process evaluates its contiguous share and all get the whole's.
Evaluation evaluate(Layer& model, const Loss& loss, Metric metric, const Samples& x, const Samples& y,
                    int batch_size = 256, dist::Communicator* communicator = nullptr);
Evaluation evaluate(Layer& model, const Loss& loss, Metric metric, const Tensor& x, const Tensor& y,
                    int batch_size = 256);

// Called at the start of every epoch (1-based) before batching. May be empty.
using EpochStart = std::function<void(int epoch)>;

// std::invalid_argument when x and y (or x_val and y_val) differ in size.
History fit(Layer& model, const Loss& loss, Optimizer& optimizer, const Samples& x, const Samples& y,
            const Samples& x_val, const Samples& y_val, const FitOptions& options,
            const EpochStart& on_epoch_begin = {});

// Called at the start of every epoch (1-based) before batching; lets a caller
// draw fresh noisy inputs each epoch. May be empty.
using EpochHook = std::function<void(int epoch, Tensor& x)>;

History fit(Layer& model, const Loss& loss, Optimizer& optimizer, Tensor& x, const Tensor& y, const Tensor& x_val,
            const Tensor& y_val, const FitOptions& options, const EpochHook& on_epoch_begin = {});

}  // namespace dn
