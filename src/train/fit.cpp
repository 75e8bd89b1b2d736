#include "train/fit.hpp"

#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "eval/image_metrics.hpp"

namespace dn {

const char* on_nan_name(OnNaN on_nan) { return on_nan == OnNaN::stop ? "stop" : "continue"; }

OnNaN parse_on_nan(const std::string& text) {
  if (text == "stop") return OnNaN::stop;
  if (text == "continue") return OnNaN::continue_training;
  throw ArgumentError("on_nan", "must be stop or continue (got '" + text + "')");
}

static std::size_t argmax_row(const float* p, std::size_t k) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < k; ++j)
    if (p[j] > p[best]) best = j;
  return best;
}

double batch_metric(Metric metric, const Tensor& y_pred, const Tensor& y_true) {
  if (metric == Metric::binary_accuracy) return binary_accuracy(y_pred, y_true);
  const std::size_t n = static_cast<std::size_t>(y_pred.dim(0));
  const std::size_t k = y_pred.size() / n;
  std::size_t hits = 0;
  for (std::size_t i = 0; i < n; ++i)
    hits += argmax_row(y_pred.data() + i * k, k) == argmax_row(y_true.data() + i * k, k);
  return static_cast<double>(hits) / static_cast<double>(n);
}

Evaluation evaluate(Layer& model, const Loss& loss, Metric metric, const Samples& x, const Samples& y,
                    int batch_size) {
  const std::size_t n = x.size();
  Tensor xb, yb, pred;
  double loss_sum = 0, metric_sum = 0;
  for (std::size_t begin = 0; begin < n; begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(batch_size), n - begin);
    x.slice(begin, count, xb);
    y.slice(begin, count, yb);
    predict(model, xb, pred, batch_size);
    loss_sum += loss.forward(pred, yb) * static_cast<double>(count);
    metric_sum += batch_metric(metric, pred, yb) * static_cast<double>(count);
  }
  return {loss_sum / static_cast<double>(n), metric_sum / static_cast<double>(n)};
}

Evaluation evaluate(Layer& model, const Loss& loss, Metric metric, const Tensor& x, const Tensor& y,
                    int batch_size) {
  return evaluate(model, loss, metric, TensorSamples(x), TensorSamples(y), batch_size);
}

static void check_sizes(const Samples& x, const Samples& y, const char* xs, const char* ys) {
  if (x.size() != y.size())
    throw std::invalid_argument(fmt::format("fit: {} holds {} samples but {} holds {}", xs, x.size(), ys, y.size()));
}

History fit(Layer& model, const Loss& loss, Optimizer& optimizer, const Samples& x, const Samples& y,
            const Samples& x_val, const Samples& y_val, const FitOptions& options, const EpochStart& on_epoch_begin) {
  check_sizes(x, y, "x", "y");
  check_sizes(x_val, y_val, "x_val", "y_val");
  const std::size_t n = x.size();
  const std::size_t batch = static_cast<std::size_t>(options.batch_size);
  const std::vector<Param*> params = model.params();
  History history;
  history.metric = options.metric;
  FitContext context;
  context.model = &model;
  context.optimizer = &optimizer;
  // Callbacks point at the context only while fit runs, however it ends.
  struct ContextScope {
    const std::vector<Callback*>& callbacks;
    ~ContextScope() {
      for (Callback* c : callbacks) c->set_context(nullptr);
    }
  } scope{options.callbacks};
  for (Callback* c : options.callbacks) c->set_context(&context);
  if (options.resumed && options.resumed->epochs.size() != static_cast<std::size_t>(options.initial_epoch))
    throw std::invalid_argument(fmt::format("fit: the resumed history holds {} epochs, initial_epoch is {}",
                                            options.resumed->epochs.size(), options.initial_epoch));
  const TrainBegin train_begin{n, x_val.size(), options.epochs, options.batch_size, options.metric, options.resumed};
  for (Callback* c : options.callbacks) c->on_train_begin(train_begin);

  std::vector<std::size_t> order(n);
  Tensor xb, yb, pred, d_pred;
  for (int epoch = options.initial_epoch + 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    if (on_epoch_begin) on_epoch_begin(epoch);
    std::iota(order.begin(), order.end(), 0);
    if (options.shuffle) {  // Fisher-Yates with a stream per epoch: the order depends only on (seed, epoch).
      Rng rng(options.seed, static_cast<std::uint64_t>(epoch));
      for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    }
    for (Callback* c : options.callbacks) c->on_epoch_begin(epoch);

    double loss_sum = 0, metric_sum = 0;
    std::size_t seen = 0;
    for (std::size_t begin = 0; begin < n; begin += batch) {
      const std::size_t count = std::min(batch, n - begin);
      x.gather(order, begin, count, xb);
      y.gather(order, begin, count, yb);
      model.forward(xb, pred, true);
      const double batch_loss = loss.forward(pred, yb);
      loss_sum += batch_loss * static_cast<double>(count);
      metric_sum += batch_metric(options.metric, pred, yb) * static_cast<double>(count);
      seen += count;
      if (!std::isfinite(batch_loss)) {
        history.diverged = true;
        if (options.on_nan == OnNaN::stop) {
          context.stop_training = true;
          break;
        }
      }
      loss.backward(pred, yb, d_pred);
      for (Param* p : params) p->grad.zero();
      model.backward(xb, pred, d_pred, nullptr);
      optimizer.step(params);
      const Logs logs{loss_sum / static_cast<double>(seen), metric_sum / static_cast<double>(seen)};
      for (Callback* c : options.callbacks) c->on_batch_end(seen, logs);
      if (context.stop_now) break;
    }
    if (context.stop_now) {
      history.interrupted = true;
      break;
    }

    EpochLog log;
    log.epoch = epoch;
    log.loss = loss_sum / static_cast<double>(seen);
    log.metric = metric_sum / static_cast<double>(seen);
    const Evaluation val = evaluate(model, loss, options.metric, x_val, y_val);
    log.val_loss = val.loss;
    log.val_metric = val.metric;
    log.lr = optimizer.learning_rate;
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    history.epochs.push_back(log);
    for (Callback* c : options.callbacks) c->on_epoch_end(log);
    if (context.stop_training) {
      history.stopped = true;
      break;
    }
  }
  history.stop_reason = context.stop_reason;
  for (Callback* c : options.callbacks) c->on_train_end(history);
  return history;
}

History fit(Layer& model, const Loss& loss, Optimizer& optimizer, Tensor& x, const Tensor& y, const Tensor& x_val,
            const Tensor& y_val, const FitOptions& options, const EpochHook& on_epoch_begin) {
  EpochStart start;
  if (on_epoch_begin) start = [&](int epoch) { on_epoch_begin(epoch, x); };
  // The view reads x afresh at each batch, so the hook may replace it.
  return fit(model, loss, optimizer, TensorSamples(x), TensorSamples(y), TensorSamples(x_val), TensorSamples(y_val),
             options, start);
}

}  // namespace dn
