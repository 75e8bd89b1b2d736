// Times the seed model as `denoise train` runs it, or
// with --model classifier-large the classifier as `denoise classify train` runs it.
//
//   bench_train --mode train   one epoch's worth of training steps after a warm-up
//   bench_train --mode infer   throughput (images per second)
//   bench_train --mode layers  where a training step's time goes, layer by layer
//
// One configuration per run, so that each run's peak memory is its own; bench/run.sh
// runs the set and prints the table. A step is the one in train/fit.cpp: gather a
// shuffled batch, forward, loss and metric, loss backward, zero grads, backward, update.
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/heap.hpp"
#include "core/rng.hpp"
#include "data/dataset.hpp"
#include "data/noise.hpp"
#include "data/packed_images.hpp"
#include "fma_peak.hpp"
#include "kernels/simd/simd.hpp"
#include "nn/inference.hpp"
#include "nn/models.hpp"
#include "train/fit.hpp"
#include "train/losses.hpp"
#include "train/optimizers.hpp"

namespace dn::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kEpochSamples = 55000;  // the seed's training split

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// A field of /proc/self/status in MB (VmHWM: peak resident set, VmRSS: current).
double status_mb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  return 0.0;
}

// Restarts VmHWM from the current RSS (Linux >= 4.0), so that the peak read after
// training belongs to training, not to loading the data files.
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// The mean time for a cache line to go from one core to another and back, between the
// first two CPUs this process may run on (null with fewer). Virtual machines move their
// CPUs about: 2026-11-29's 2-core machine measured 52 ns (cores that share a cache) or
// 300-330 ns (cores apart), and its 2-thread epochs took up to 20% longer apart.
nlohmann::json core_round_trip_ns() {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return nullptr;
  int cpus[2], found = 0;
  for (int c = 0; c < CPU_SETSIZE && found < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus[found++] = c;
  auto pin = [](int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  };
  constexpr int kTrips = 100000;
  alignas(64) std::atomic<int> ball{0};
  double ns = 0;
  std::thread echo([&] {
    pin(cpus[1]);
    for (int i = 0; i < kTrips; ++i) {
      while (ball.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      ball.store(2 * i + 2, std::memory_order_release);
    }
  });
  std::thread serve([&] {
    pin(cpus[0]);
    const auto start = Clock::now();
    for (int i = 0; i < kTrips; ++i) {
      ball.store(2 * i + 1, std::memory_order_release);
      while (ball.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kTrips;
  });
  serve.join();
  echo.join();
  return std::round(ns * 10) / 10;
}

// What each model learns and how, as its command trains it: the seed denoises
// (train/denoiser.cpp's defaults), classifier-large labels clean digits
// (train/classifier.cpp's fixed loss and optimizer).
struct Recipe {
  std::string loss, optimizer;
  Metric metric;
};

Recipe recipe(const std::string& model) {
  if (model == "seed") return {"binary_crossentropy", "adadelta", Metric::binary_accuracy};
  return {"categorical_crossentropy", "adam", Metric::accuracy};
}

std::unique_ptr<Sequential> build_model(const std::string& model) { return make_model({model, "relu", 28, 28}, 0); }

// The seed's noisy inputs and clean targets held as `denoise train` holds them: packed
// [N, 28, 28], clean as bytes and noisy as 16-bit, decoded a batch at a time. The
// classifier reads the clean images and one-hot labels (`denoise classify train`
// holds its images as float; decoding bytes is a negligible part of its step).
struct Data {
  bool classify = false;
  PackedImages noisy, clean;
  Tensor labels;  // one-hot [N, 10]; classify only
  std::string source;

  std::size_t size() const { return clean.size(); }
  const PackedImages& inputs() const { return classify ? clean : noisy; }
  void gather(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count, Tensor& x,
              Tensor& y) const {
    inputs().gather(order, begin, count, x);
    if (classify)
      gather_rows(labels, order, begin, count, y);
    else
      clean.gather(order, begin, count, y);
  }
  // As train/fit.cpp: the next batch's images start loading while this one trains.
  void prefetch(const std::vector<std::size_t>& order, std::size_t begin, std::size_t count) const {
    inputs().prefetch(order, begin, count);
    if (!classify) clean.prefetch(order, begin, count);
  }
};

Tensor one_hot(const std::vector<std::uint8_t>& labels) {
  Tensor y({static_cast<int>(labels.size()), 10});
  for (std::size_t i = 0; i < labels.size(); ++i) y[i * 10 + labels[i]] = 1.0f;
  return y;
}

Data load_data(const std::string& data_dir, std::size_t samples, bool classify) {
  Data d;
  d.classify = classify;
  std::vector<std::uint8_t> labels;
  if (!data_dir.empty() && std::filesystem::exists(std::filesystem::path(data_dir) / kTrainImagesFile)) {
    DataOptions options;
    options.data_dir = data_dir;
    options.limit = samples;
    PackedDataset train = std::move(load_packed_splits(options).train);
    d.clean = std::move(train.images);
    labels = std::move(train.labels);
    d.source = "mnist";
  } else {
    Dataset digits = make_synthetic_digits(samples, 0);
    d.clean = PackedImages::pack(digits.images, PixelEncoding::u8);
    labels = std::move(digits.labels);
    d.source = "synthetic";
  }
  if (classify)
    d.labels = one_hot(labels);
  else
    d.noisy = add_noise_packed(parse_noise("gaussian:0.5"), d.clean, 0);
  return d;
}

// The leaf layers in forward order (the seed model nests encoder and decoder).
void collect_leaves(Layer& layer, std::vector<Layer*>& out) {
  const auto children = layer.children();
  if (children.empty()) out.push_back(&layer);
  for (Layer* child : children) collect_leaves(*child, out);
}

struct Trainer {
  Recipe how;
  std::unique_ptr<Sequential> model;
  std::unique_ptr<Loss> loss = make_loss(how.loss);
  std::unique_ptr<Optimizer> optimizer = make_optimizer(how.optimizer, std::nullopt);
  std::vector<Param*> params = model->params();
  std::vector<std::size_t> order;
  Tensor xb, yb, pred, d_pred;
  double loss_sum = 0, metric_sum = 0;
  std::size_t seen = 0;

  Trainer(const std::string& name, std::size_t n) : how(recipe(name)), model(build_model(name)), order(n) {
    std::iota(order.begin(), order.end(), 0);
    Rng rng(0, 1);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  }

  // One step on the batch at `begin` of the shuffled order (wrapping around).
  void step(const Data& d, std::size_t begin, std::size_t batch) {
    begin %= order.size();
    const std::size_t count = std::min(batch, order.size() - begin);
    d.gather(order, begin, count, xb, yb);
    d.prefetch(order, (begin + batch) % order.size(), count);
    model->forward(xb, pred, true);
    loss_sum += loss->forward(pred, yb) * static_cast<double>(count);
    metric_sum += batch_metric(how.metric, pred, yb) * static_cast<double>(count);
    seen += count;
    loss->backward(pred, yb, d_pred);
    for (Param* p : params) p->grad.zero();
    model->backward(xb, pred, d_pred, nullptr);
    optimizer->step(params);
  }
};

// `epochs` epochs after the warm-up; the time is the best epoch's (other work on the
// machine only ever adds time), the median is reported beside it, and the loss is the
// first epoch's, the figure to compare between builds.
nlohmann::json run_train(const std::string& model, const Data& d, std::size_t batch, int warmup, int epochs) {
  Trainer t(model, d.size());
  const std::size_t n = t.order.size();
  for (int s = 0; s < warmup; ++s) t.step(d, static_cast<std::size_t>(s) * batch, batch);
  reset_peak_rss();
  std::vector<double> walls, cpus;
  double first_loss = 0, first_metric = 0;
  std::size_t steps = 0;
  for (int e = 0; e < epochs; ++e) {
    t.loss_sum = t.metric_sum = 0;
    t.seen = 0;
    steps = 0;
    const double cpu0 = cpu_seconds();
    const auto start = Clock::now();
    for (std::size_t begin = 0; begin < n; begin += batch, ++steps) t.step(d, begin, batch);
    walls.push_back(seconds_since(start));
    cpus.push_back(cpu_seconds() - cpu0);
    if (e == 0) first_loss = t.loss_sum / double(t.seen), first_metric = t.metric_sum / double(t.seen);
  }
  const std::size_t best = std::size_t(std::min_element(walls.begin(), walls.end()) - walls.begin());
  std::vector<double> sorted = walls;
  std::sort(sorted.begin(), sorted.end());
  return {{"seconds_per_epoch", walls[best]},
          {"median_seconds_per_epoch", sorted[sorted.size() / 2]},
          {"epoch_seconds", walls},
          {"cpu_seconds_per_epoch", cpus[best]},
          {"steps", steps},
          {"samples", n},
          {"us_per_sample", walls[best] / static_cast<double>(n) * 1e6},
          {"epoch_loss", first_loss},
          {"epoch_" + metric_name(t.how.metric), first_metric},
          {"peak_rss_mb", status_mb("VmHWM")},
          {"data_mb", static_cast<double>(d.noisy.bytes() + d.clean.bytes()) / (1 << 20)}};
}

nlohmann::json run_infer(const std::string& name, const Data& d, std::size_t batch, int repeats) {
  auto model = build_model(name);
  const Tensor x = d.inputs().unpack();  // predict reads float; decoding is not what is timed here
  Tensor out;
  predict(*model, x, out, static_cast<int>(batch));  // warm-up: workspaces grow once
  double best = INFINITY;  // best of a few passes: other work on the machine only ever adds time
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    predict(*model, x, out, static_cast<int>(batch));
    best = std::min(best, seconds_since(start));
  }
  const double images = static_cast<double>(x.dim(0));
  return {{"images", x.dim(0)}, {"best_seconds", best}, {"images_per_second", images / best}};
}

// Wall and process CPU time of one part of a training step, per step. CPU time counts
// every thread's work and nothing of other processes': on a busy machine it shows where
// the work goes when the wall clock only shows the waiting. Each is the least over
// several rounds of steps, as other work on the machine only ever adds time.
struct Part {
  std::string name, phase;
  double wall = INFINITY, cpu = INFINITY;  // best round
  double round_wall = 0, round_cpu = 0;    // this round so far
  double multiply_adds = 0;                // per step, counted as the direct convolution would do them
};

// Multiply-adds of one pass of a layer over a batch, counted as direct loops do them
// (Winograd's layers do fewer, so they can score over 100% of the peak): every pixel of
// a convolution's output, of a transposed convolution's input and every sample of a
// Dense layer meets the whole kernel once. Layers without a kernel count none.
double pass_multiply_adds(Layer& layer, const Tensor& in, const Tensor& out) {
  const auto params = layer.params();
  if (params.empty() || params[0]->name != "kernel") return 0;
  const double kernel = static_cast<double>(params[0]->value.size());
  const std::string type = layer.type();
  if (type == "Conv2D") return kernel * out.dim(0) * out.dim(1) * out.dim(2);
  if (type == "Conv2DTranspose") return kernel * in.dim(0) * in.dim(1) * in.dim(2);
  if (type == "Dense") return kernel * in.dim(0);
  return 0;
}

// Each leaf layer's forward and backward timed on its own, as Sequential would run them.
nlohmann::json run_layers(const std::string& model, const Data& d, std::size_t batch, int warmup, int steps,
                          int rounds) {
  Trainer t(model, d.size());
  std::vector<Layer*> leaves;
  collect_leaves(*t.model, leaves);
  const std::size_t L = leaves.size();
  auto label = [&](std::size_t i) { return leaves[i]->name() + " (" + leaves[i]->type() + ")"; };
  std::vector<Part> parts;  // in the order a step runs them
  parts.push_back({"gather batch", ""});
  for (std::size_t i = 0; i < L; ++i) parts.push_back({label(i), "forward"});
  parts.push_back({"loss + metric", "forward+backward"});
  parts.push_back({"zero grads", ""});
  for (std::size_t i = L; i-- > 0;) parts.push_back({label(i), "backward"});
  parts.push_back({"optimizer", "step"});

  std::size_t first_trainable = 0;
  while (first_trainable + 1 < L && leaves[first_trainable]->params().empty()) ++first_trainable;
  std::vector<Tensor> outs(L), grads(L);
  // Which rows got the time of a fused pair (the other shows about none): the pair's
  // multiply-adds are counted there.
  std::vector<std::size_t> forward_row(L), backward_row(L);
  for (std::size_t i = 0; i < L; ++i) forward_row[i] = 1 + i, backward_row[i] = 1 + L + 2 + (L - 1 - i);
  const auto total_start = Clock::now();
  for (int s = -warmup; s < steps * rounds; ++s) {
    std::size_t part = 0;
    auto wall = Clock::now();
    double cpu = cpu_seconds();
    auto lap = [&] {  // the time since the last lap goes to the next part
      const auto wall_now = Clock::now();
      const double cpu_now = cpu_seconds();
      if (s >= 0) {
        parts[part].round_wall += std::chrono::duration<double>(wall_now - wall).count();
        parts[part].round_cpu += cpu_now - cpu;
      }
      ++part, wall = wall_now, cpu = cpu_now;
    };
    const std::size_t begin = (static_cast<std::size_t>(s + warmup) * batch) % t.order.size();
    const std::size_t count = std::min(batch, t.order.size() - begin);
    d.gather(t.order, begin, count, t.xb, t.yb);
    d.prefetch(t.order, (begin + batch) % t.order.size(), count);
    lap();
    const Tensor* in = &t.xb;
    for (std::size_t i = 0; i < L; ++i) {
      // As Sequential: a layer and the next in one pass where they fuse (the time goes to the
      // first). The leaves are flattened; the seed model's pair lies inside its encoder.
      if (i + 1 < L && leaves[i]->forward_with_next(*leaves[i + 1], *in, outs[i], outs[i + 1], true)) {
        forward_row[i + 1] = forward_row[i];
        lap();
        in = &outs[++i];
        lap();
        continue;
      }
      leaves[i]->forward(*in, outs[i], true);
      in = &outs[i];
      lap();
    }
    Tensor& pred = outs[L - 1];
    t.loss->forward(pred, t.yb);
    batch_metric(t.how.metric, pred, t.yb);
    t.loss->backward(pred, t.yb, t.d_pred);
    lap();
    for (Param* p : t.params) p->grad.zero();
    lap();
    const Tensor* d_out = &t.d_pred;
    for (std::size_t i = L; i-- > 0;) {
      auto x = [&](std::size_t j) -> const Tensor& { return j == 0 ? t.xb : outs[j - 1]; };
      // As Sequential: the gradient stops at the first layer with parameters.
      auto d_in = [&](std::size_t j) { return j <= first_trainable ? nullptr : &grads[j - 1]; };
      // As Sequential: a layer and the one before in one pass where they fuse (the time goes to the later).
      if (i > first_trainable &&
          leaves[i - 1]->backward_with_next(*leaves[i], x(i - 1), outs[i - 1], outs[i], *d_out, d_in(i - 1))) {
        backward_row[i - 1] = backward_row[i];
        lap();
        d_out = d_in(--i);
        lap();
        continue;
      }
      if (i >= first_trainable) leaves[i]->backward(x(i), outs[i], *d_out, d_in(i));
      d_out = d_in(i);
      lap();
    }
    t.optimizer->step(t.params);
    lap();
    if (s >= 0 && (s + 1) % steps == 0)
      for (Part& p : parts) {
        p.wall = std::min(p.wall, p.round_wall / steps), p.cpu = std::min(p.cpu, p.round_cpu / steps);
        p.round_wall = p.round_cpu = 0;
      }
  }
  const double total = seconds_since(total_start);
  for (std::size_t i = 0; i < L; ++i) {
    const Tensor& in = i == 0 ? t.xb : outs[i - 1];
    const double pass = pass_multiply_adds(*leaves[i], in, outs[i]);
    parts[forward_row[i]].multiply_adds += pass;
    // The weight gradient, and the input gradient but at the first layer with weights.
    if (i >= first_trainable) parts[backward_row[i]].multiply_adds += pass * (i > first_trainable ? 2 : 1);
  }
  const double peak = multiply_add_peak(omp_get_max_threads());
  double wall_sum = 0, cpu_sum = 0, multiply_adds = 0;
  for (const Part& p : parts) wall_sum += p.wall, cpu_sum += p.cpu, multiply_adds += p.multiply_adds;
  auto ms = [](double v) { return v * 1e3; };
  nlohmann::json rows = nlohmann::json::array();
  for (const Part& p : parts)
    rows.push_back({{"part", p.name},
                    {"phase", p.phase},
                    {"ms_per_step", ms(p.wall)},
                    {"percent", 100.0 * p.wall / wall_sum},
                    {"cpu_ms_per_step", ms(p.cpu)},
                    {"cpu_percent", 100.0 * p.cpu / cpu_sum},
                    {"multiply_adds_per_step", p.multiply_adds},
                    {"percent_of_peak", 100.0 * p.multiply_adds / p.wall / peak}});
  const double epoch_steps = std::ceil(kEpochSamples / static_cast<double>(batch));
  return {{"steps", steps},
          {"rounds", rounds},
          {"epoch_samples", kEpochSamples},
          {"epoch_steps", epoch_steps},
          {"ms_per_step", ms(wall_sum)},
          {"cpu_ms_per_step", ms(cpu_sum)},
          {"seconds_per_epoch_estimate", wall_sum * epoch_steps},
          {"cpu_seconds_per_epoch_estimate", cpu_sum * epoch_steps},
          {"wall_seconds", total},
          {"multiply_adds_per_step", multiply_adds},
          {"multiply_add_peak_per_second", peak},
          {"percent_of_peak", 100.0 * multiply_adds / wall_sum / peak},
          {"rows", rows}};
}

void print_layers(const nlohmann::json& r) {
  // "of peak": multiply-adds as direct loops count them, against the measured peak.
  auto of_peak = [](const nlohmann::json& j) {
    return j["multiply_adds_per_step"].get<double>() > 0 ? fmt::format("{:>7.0f}%", j["percent_of_peak"].get<double>())
                                                         : std::string(8, ' ');
  };
  fmt::print("{:<40} {:<18} {:>9} {:>7} {:>9} {:>7} {:>8}\n", "part", "phase", "ms/step", "share", "cpu ms", "share",
             "of peak");
  for (const auto& row : r["rows"])
    fmt::print("{:<40} {:<18} {:>9.4f} {:>6.1f}% {:>9.4f} {:>6.1f}% {}\n", row["part"].get<std::string>(),
               row["phase"].get<std::string>(), row["ms_per_step"].get<double>(), row["percent"].get<double>(),
               row["cpu_ms_per_step"].get<double>(), row["cpu_percent"].get<double>(), of_peak(row));
  fmt::print("{:<40} {:<18} {:>9.4f} {:>7} {:>9.4f} {:>7} {}\n", "total", "", r["ms_per_step"].get<double>(), "",
             r["cpu_ms_per_step"].get<double>(), "", of_peak(r));
  const std::string per_epoch = fmt::format("  as s/epoch ({} steps)", r["epoch_steps"].get<double>());
  fmt::print("{:<40} {:<18} {:>9.2f} {:>7} {:>9.2f}\n", per_epoch, "", r["seconds_per_epoch_estimate"].get<double>(),
             "", r["cpu_seconds_per_epoch_estimate"].get<double>());
  fmt::print("peak: {:.1f} billion multiply-adds/s on {} thread(s), measured; layers count the multiply-adds of "
             "direct loops, so Winograd's can pass 100%\n",
             r["multiply_add_peak_per_second"].get<double>() / 1e9, r["threads"].get<int>());
}

}  // namespace
}  // namespace dn::bench

int main(int argc, char** argv) {
  using namespace dn::bench;
  CLI::App app{"Times training and inference of a model (one configuration per run)."};
  std::string mode = "train", model = "seed", data_dir, json_path;
  int threads = 2, warmup = 50, steps = 200, repeats = 3, rounds = 5, epochs = 3;
  std::size_t batch = 32, samples = 55000;
  app.add_option("--mode", mode, "train, infer or layers")
      ->check(CLI::IsMember({"train", "infer", "layers"}))
      ->capture_default_str();
  app.add_option("--model", model, "seed or classifier-large")
      ->check(CLI::IsMember({"seed", "classifier-large"}))
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "folder with MNIST's raw IDX files; synthetic digits when absent");
  app.add_option("--threads", threads, "OpenMP threads")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch", batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--samples", samples, "samples in an epoch (train) or images denoised (infer)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--steps", steps, "timed steps per round (layers mode)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rounds", rounds, "rounds of steps, best kept per part (layers mode)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--epochs", epochs, "timed epochs, best kept (train mode)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--repeats", repeats, "timed passes, best kept (infer mode)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--json", json_path, "also write the result here");
  CLI11_PARSE(app, argc, argv);
  dn::keep_freed_memory();  // as denoise itself

  try {
    const nlohmann::json round_trip = core_round_trip_ns();  // before OpenMP's threads exist to get in its way
    omp_set_num_threads(threads);
    const Data data = load_data(data_dir, samples, model != "seed");
    const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
    nlohmann::json result = {{"mode", mode},
                             {"model", model},
                             {"threads", threads},
                             {"batch", batch},
                             {"data", data.source},
                             {"simd_target", dn::kernels::simd::target()},
                             {"simd_available", dn::kernels::simd::available_targets()},
                             {"omp_wait_policy", wait_policy ? wait_policy : "default"},
                             {"load_average_before", load_average()},
                             {"core_round_trip_ns", round_trip}};
    if (mode == "train") result.update(run_train(model, data, batch, warmup, epochs));
    if (mode == "infer") result.update(run_infer(model, data, batch, repeats));
    if (mode == "layers") {
      result.update(run_layers(model, data, batch, warmup, steps, rounds));
      print_layers(result);
    }
    result["load_average_after"] = load_average();
    if (!json_path.empty()) std::ofstream(json_path) << result.dump(2) << "\n";
    std::cout << result.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_train: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
