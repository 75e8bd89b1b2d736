#include "train/keras_callbacks.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/core.h>

#include "core/error.hpp"
#include "nn/layer.hpp"
#include "train/optimizers.hpp"

namespace dn {

EarlyStopping::EarlyStopping(int patience, double min_delta) : patience_(patience), min_delta_(min_delta) {
  if (patience < 1) throw ArgumentError("patience", fmt::format("must be >= 1 (got {})", patience));
}

static std::vector<Tensor> weights_of(Layer& model) {
  std::vector<Tensor> weights;
  for (const Param* p : model.params()) weights.push_back(p->value);
  return weights;
}

void EarlyStopping::on_train_begin(const TrainBegin& begin) {
  epochs_ = begin.epochs;
  wait_ = best_epoch_ = stopped_epoch_ = 0;
  best_ = std::numeric_limits<double>::infinity();
  best_weights_.clear();
  restored_ = false;
  if (!begin.resumed || begin.resumed->epochs.empty()) return;
  for (const EpochLog& log : begin.resumed->epochs) {  // no stop here: a run it stopped was finished, not resumed
    if (improved(log.val_loss))
      best_epoch_ = log.epoch;
    else
      ++wait_;
  }
  if (best_epoch_ == begin.resumed->epochs.back().epoch) {
    best_weights_ = weights_of(*context().model);
  } else if (best_epoch_ != 0) {
    if (resumed_best_weights_.size() != context().model->params().size())
      throw DataError(fmt::format("early stopping: the checkpoint lacks the weights of its best epoch ({})", best_epoch_));
    best_weights_ = std::move(resumed_best_weights_);
  }
  resumed_best_weights_.clear();
}

bool EarlyStopping::improved(double val_loss) {
  if (!(std::isfinite(val_loss) && val_loss < best_ - min_delta_)) return false;
  best_ = val_loss;
  wait_ = 0;
  return true;
}

void EarlyStopping::on_epoch_end(const EpochLog& log) {
  if (improved(log.val_loss)) {
    best_epoch_ = log.epoch;
    best_weights_ = weights_of(*context().model);
    return;
  }
  if (++wait_ < patience_) return;
  stopped_epoch_ = log.epoch;
  context().stop_training = true;
  context().stop_reason =
      fmt::format("Epoch {}: early stopping: val_loss has not improved for {} epoch{}{}", log.epoch, patience_,
                  patience_ == 1 ? "" : "s",
                  best_epoch_ ? fmt::format("; restoring the weights of epoch {} (val_loss {:.4f})", best_epoch_, best_)
                              : "");
}

void EarlyStopping::on_train_end(const History& history) {
  if (best_weights_.empty() || history.epochs.empty() || history.epochs.back().epoch == best_epoch_) return;
  const std::vector<Param*> params = context().model->params();
  for (std::size_t i = 0; i < params.size(); ++i) params[i]->value = best_weights_[i];
  restored_ = true;
}

ReduceLROnPlateau::ReduceLROnPlateau(double factor, int patience, double min_delta, double min_lr)
    : factor_(factor), min_delta_(min_delta), min_lr_(min_lr), patience_(patience) {
  if (!(factor > 0 && factor < 1)) throw ArgumentError("factor", fmt::format("must be in (0, 1) (got {})", factor));
  if (patience < 1) throw ArgumentError("patience", fmt::format("must be >= 1 (got {})", patience));
}

void ReduceLROnPlateau::on_train_begin(const TrainBegin& begin) {
  wait_ = 0;
  best_ = std::numeric_limits<double>::infinity();
  if (!begin.resumed || begin.resumed->epochs.empty()) return;
  double lr = begin.resumed->epochs.front().lr;
  for (const EpochLog& log : begin.resumed->epochs) lr = next_lr(log.val_loss, lr);
  context().optimizer->learning_rate = lr;  // as the uninterrupted run would train its next epoch
}

double ReduceLROnPlateau::next_lr(double val_loss, double lr) {
  if (std::isfinite(val_loss) && val_loss < best_ - min_delta_) {
    best_ = val_loss;
    wait_ = 0;
    return lr;
  }
  if (++wait_ < patience_) return lr;
  wait_ = 0;
  return lr > min_lr_ ? std::max(lr * factor_, min_lr_) : lr;
}

void ReduceLROnPlateau::on_epoch_end(const EpochLog& log) {
  double& lr = context().optimizer->learning_rate;
  lr = next_lr(log.val_loss, lr);
}

LearningRateScheduler::LearningRateScheduler(LrSchedule schedule, double base, int epochs)
    : schedule_(schedule), base_(base), epochs_(epochs) {}

void LearningRateScheduler::on_epoch_begin(int epoch) {
  context().optimizer->learning_rate = scheduled_lr(schedule_, base_, epoch, epochs_);
}

ModelCheckpoint::ModelCheckpoint(std::function<void(const History& so_far)> save) : save_(std::move(save)) {}

void ModelCheckpoint::on_train_begin(const TrainBegin& begin) {
  so_far_ = History{};
  so_far_.metric = begin.metric;
  best_ = std::numeric_limits<double>::infinity();
  if (!begin.resumed) return;  // RUN/best/ already holds the best of the resumed epochs
  so_far_.epochs = begin.resumed->epochs;
  for (const EpochLog& log : so_far_.epochs)
    if (std::isfinite(log.val_loss)) best_ = std::min(best_, log.val_loss);
}

void ModelCheckpoint::on_epoch_end(const EpochLog& log) {
  so_far_.epochs.push_back(log);
  if (!(std::isfinite(log.val_loss) && log.val_loss < best_)) return;
  best_ = log.val_loss;
  save_(so_far_);
}

CSVLogger::CSVLogger(std::filesystem::path path) : path_(std::move(path)) {}

CSVLogger::~CSVLogger() {
  if (file_) std::fclose(file_);
}

void CSVLogger::on_train_begin(const TrainBegin& begin) {
  if (!path_.parent_path().empty()) std::filesystem::create_directories(path_.parent_path());
  file_ = std::fopen(path_.c_str(), "w");
  if (!file_) throw DataError(fmt::format("{}: cannot write: {}", path_.string(), std::strerror(errno)));
  const std::string metric = metric_name(begin.metric);
  fmt::print(file_, "epoch,loss,{},val_loss,val_{},lr,seconds\n", metric, metric);
  if (begin.resumed)  // the file is written anew: the resumed epochs' rows first
    for (const EpochLog& log : begin.resumed->epochs) write_row(log);
  std::fflush(file_);
}

void CSVLogger::write_row(const EpochLog& log) {
  fmt::print(file_, "{},{},{},{},{},{},{}\n", log.epoch, log.loss, log.metric, log.val_loss, log.val_metric, log.lr,
             log.seconds);
}

void CSVLogger::on_epoch_end(const EpochLog& log) {
  if (!file_) return;
  write_row(log);
  std::fflush(file_);
}

void CSVLogger::on_train_end(const History&) {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

}  // namespace dn
