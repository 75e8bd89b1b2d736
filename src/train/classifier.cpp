#include "train/classifier.hpp"

#include <omp.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "data/augment.hpp"
#include "data/noise_streams.hpp"
#include "nn/inference.hpp"
#include "nn/models.hpp"
#include "run/run_folder.hpp"
#include "train/checkpoint.hpp"
#include "train/fit.hpp"
#include "train/classifier_report.hpp"
#include "train/denoiser.hpp"
#include "train/keras_callbacks.hpp"

namespace dn {

namespace fs = std::filesystem;

namespace {

Tensor one_hot(const std::vector<std::uint8_t>& labels, int classes) {
  Tensor y({int(labels.size()), classes});
  for (std::size_t i = 0; i < labels.size(); ++i) y[i * std::size_t(classes) + labels[i]] = 1.0f;
  return y;
}

// The classifier's input for clean images: themselves, or with the split's noise
// (streams from first_index on), then denoised when there is a denoiser.
Tensor classifier_input(const Tensor& clean, const ClassifierConfig& c, const NoiseSpec& noise, Layer* denoiser,
                        Split split, std::uint64_t first_index = 0) {
  if (c.on == TrainOn::clean) return clean;
  Tensor x = noisy_images(clean, noise, c.seed, split, first_index);
  if (!denoiser) return x;
  Tensor denoised;
  predict(*denoiser, x, denoised);
  denoised.reshape(clean.shape());
  return denoised;
}

// One training epoch's input: the training images, moved by the run's random
// shifts when it augments (drawn from the same streams as the epoch's noise,
// first_index on), then as classifier_input makes them.
Tensor training_input(const Tensor& clean, const ClassifierConfig& c, const NoiseSpec& noise, Layer* denoiser,
                      std::uint64_t first_index) {
  if (c.shift_augment == 0) return classifier_input(clean, c, noise, denoiser, Split::train, first_index);
  Tensor moved;
  shift_augment(clean, c.shift_augment, c.seed, first_index, moved);
  return classifier_input(moved, c, noise, denoiser, Split::train, first_index);
}

}  // namespace

nlohmann::json ClassifierMetrics::to_json(TrainOn on) const {
  nlohmann::json j = {{"split", "test"},
                      {"count", count},
                      {"test_accuracy", test_accuracy},
                      {"test_loss", test_loss},
                      {"diverged", diverged}};
  if (test_accuracy_on_input) {
    j[std::string("test_accuracy_") + train_on_name(on)] = *test_accuracy_on_input;
    j["noise"] = noise;
  }
  return j;
}

// Trains into the staging folder from scratch or from a checkpoint in it, then
// completes the run folder and commits it. Only rank 0 holds a writer and writes.
static ClassifierResult train_into(const ClassifierConfig& config, RunWriter* writer, const fs::path& staging,
                                   const std::vector<Callback*>& callbacks, bool resume,
                                   dist::Communicator& communicator) {
  check_batch_split(config.batch_size, communicator);
  ClassifierConfig c = config;
  LoadedClassifier init;
  if (!c.init_from.empty() && !resume) init = load_init_from(c);  // a resumed run's weights are in its checkpoint
  std::unique_ptr<Sequential> denoiser;
  if (c.on == TrainOn::denoised) {
    LoadedDenoiser run = load_denoiser(c.denoiser);
    denoiser = std::move(run.model);
    if (c.noise.empty()) c.noise = run.config.noise;
  }
  if (c.on == TrainOn::noisy && c.noise.empty()) c.noise = kDefaultClassifierNoise;
  const NoiseSpec noise = c.on == TrainOn::clean ? NoiseSpec{} : parse_noise(c.noise);
  if (!c.noise.empty()) c.noise = noise.str();

  Splits data = load_splits(c.data);
  const std::size_t n = data.train.size();
  const int classes = data.train.num_classes;
  // Clean images train as they are; noisy or augmented ones keep the clean set to draw each epoch's input from.
  const bool fresh_each_epoch = c.on != TrainOn::clean || c.shift_augment > 0;
  Tensor x = fresh_each_epoch ? training_input(data.train.images, c, noise, denoiser.get(), 0)
                              : std::move(data.train.images);
  const Tensor y = one_hot(data.train.labels, classes);
  const Tensor x_val = classifier_input(data.validation.images, c, noise, denoiser.get(), Split::validation);
  const Tensor y_val = one_hot(data.validation.labels, classes);
  auto model = make_model({c.model, "relu", x.dim(1), x.dim(2)}, c.seed);
  if (init.model) copy_weights(*init.model, *model);
  auto loss = make_loss(kClassifierLoss);
  auto optimizer = make_optimizer(kClassifierOptimizer, c.lr);
  const fs::path checkpoint = staging / kCheckpointFile;
  Checkpoint prior;
  if (resume) {
    prior = restore_checkpoint(checkpoint, *model, *optimizer);
    require_same_config(prior, c.to_json(), checkpoint);
  }
  // Each epoch (noisy, denoised, augmented): fresh noise and shifts; epoch 1 has its input already.
  const EpochHook on_epoch = [&](int epoch, Tensor& x_epoch) {
    if (fresh_each_epoch && epoch > 1)
      x_epoch = training_input(data.train.images, c, noise, denoiser.get(), std::uint64_t(epoch - 1) * n);
  };
  const fs::path& dir = staging;
  nlohmann::json cfg = c.to_json();
  cfg["threads"] = omp_get_max_threads();  // informative: results are identical for a given thread count
  cfg["world_size"] = communicator.size();  // processes that trained it data-parallel
  const ControlCallbacks controls = make_control_callbacks(
      writer ? c.controls : c.controls.without_files(), optimizer->learning_rate, c.epochs, dir,
      [&](const History& so_far) { save_run_folder(dir / kBestRunFolder, cfg, *model, so_far.to_json()); },
      callbacks);
  if (controls.early_stopping) controls.early_stopping->resume_best_weights(std::move(prior.early_stopping_weights));
  CheckpointSaver saver(checkpoint, *model, *optimizer, c.to_json(), prior.history, controls.early_stopping);
  FitOptions options;
  options.epochs = c.epochs;
  options.initial_epoch = prior.epoch;
  options.resumed = resume ? &prior.history : nullptr;
  options.batch_size = c.batch_size;
  options.seed = c.seed;
  options.metric = Metric::accuracy;
  options.callbacks = controls.all;
  if (writer) options.callbacks.push_back(&saver);
  options.communicator = &communicator;
  ClassifierResult result;
  result.history = whole_history(prior, fit(*model, *loss, *optimizer, x, y, x_val, y_val, options, on_epoch), staging);
  if (!writer) return result;

  if (controls.early_stopping && controls.early_stopping->restored())
    cfg["restored_best_epoch"] = controls.early_stopping->best_epoch();  // the saved weights are that epoch's
  save_run_folder(dir, cfg, *model, result.history.to_json());

  const Tensor y_test = one_hot(data.test.labels, classes);
  const Evaluation clean_test = evaluate(*model, *loss, Metric::accuracy, data.test.images, y_test);
  ClassifierMetrics& m = result.metrics;
  m.count = data.test.size();
  m.test_accuracy = clean_test.metric;
  m.test_loss = clean_test.loss;
  m.diverged = result.history.diverged;
  const Tensor x_test = classifier_input(data.test.images, c, noise, denoiser.get(), Split::test);
  if (c.on != TrainOn::clean) {
    m.test_accuracy_on_input = evaluate(*model, *loss, Metric::accuracy, x_test, y_test).metric;
    m.noise = c.noise;
  }
  write_json_atomic(dir / kRunMetricsFile, m.to_json(c.on));
  write_predictions_picture(*model, x_test, data.test.labels, 10, dir / "predictions.png");
  fs::remove(checkpoint);
  writer->commit();
  if (result.history.diverged) throw diverged_run(writer->dir());
  return result;
}

ClassifierResult train_classifier(const ClassifierConfig& config, const fs::path& out_dir,
                                  const std::vector<Callback*>& callbacks, ExistingRun existing,
                                  dist::Communicator& communicator) {
  return train_in_run_folder(config, out_dir, existing, communicator, [&](const ClassifierConfig& c, RunWriter* writer,
                                                                          const fs::path& staging, bool resume) {
    return train_into(c, writer, staging, callbacks, resume, communicator);
  });
}

ClassifierResult resume_classifier(const fs::path& out_dir, const std::vector<Callback*>& callbacks,
                                   dist::Communicator& communicator) {
  return resume_in_run_folder<ClassifierConfig>(out_dir, communicator, [&](const ClassifierConfig& c, RunWriter* writer,
                                                                     const fs::path& staging, bool resume) {
    return train_into(c, writer, staging, callbacks, resume, communicator);
  });
}

LoadedClassifier load_classifier(const fs::path& run_dir) { return load_run<ClassifierConfig>(run_dir, "classify"); }

LoadedClassifier load_init_from(const ClassifierConfig& config) {
  LoadedClassifier run = load_classifier(config.init_from);
  if (run.config.model != config.model)
    throw ArgumentError("init_from", "'" + config.init_from + "' holds a " + run.config.model + " model, not " +
                                         config.model + "; fine-tuning needs the same architecture");
  return run;
}

}  // namespace dn
