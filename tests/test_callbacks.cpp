// Keras's training callbacks (train/keras_callbacks.hpp), driven hook by hook with
// val_loss sequences chosen to cross each decision, as fit would drive them.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "nn/models.hpp"
#include "train/keras_callbacks.hpp"
#include "train/optimizers.hpp"

namespace dn {
namespace {

struct FakeRun {
  std::unique_ptr<Sequential> model = make_model({"seed", "relu", 28, 28}, 0);
  std::unique_ptr<Optimizer> optimizer = make_optimizer("adam", 1.0);
  FitContext context;
  History history;
  FakeRun() {
    context.model = model.get();
    context.optimizer = optimizer.get();
  }
  // Marks the weights with the epoch, then ends the epoch with this val_loss.
  void epoch(Callback& c, int epoch, double val_loss) {
    for (Param* p : model->params()) p->value.fill(float(epoch));
    c.on_epoch_begin(epoch);
    EpochLog log;
    log.epoch = epoch;
    log.val_loss = val_loss;
    log.lr = optimizer->learning_rate;
    history.epochs.push_back(log);
    c.on_epoch_end(log);
  }
  float marker() const { return model->params().front()->value[0]; }
};

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovementAndRestoresTheBestEpoch) {
  FakeRun run;
  EarlyStopping early(2);
  early.set_context(&run.context);
  early.on_train_begin({100, 10, 10, 32, Metric::binary_accuracy});
  const double losses[] = {0.50, 0.40, 0.45, 0.41};
  for (int e = 1; e <= 4 && !run.context.stop_training; ++e) {
    run.epoch(early, e, losses[e - 1]);
    EXPECT_EQ(run.context.stop_training, e == 4) << e;
  }
  EXPECT_EQ(early.stopped_epoch(), 4);
  EXPECT_EQ(early.best_epoch(), 2);
  EXPECT_NE(run.context.stop_reason.find("restoring the weights of epoch 2"), std::string::npos)
      << run.context.stop_reason;
  early.on_train_end(run.history);
  EXPECT_TRUE(early.restored());
  for (const Param* p : run.model->params())
    for (std::size_t i = 0; i < p->value.size(); ++i) ASSERT_EQ(p->value[i], 2.0f) << p->name;
}

TEST(EarlyStopping, KeepsTheLastEpochWhenItIsTheBestAndRestoresAnEarlierBestAtTheEnd) {
  FakeRun run;
  EarlyStopping early(3);
  early.set_context(&run.context);
  early.on_train_begin({100, 10, 3, 32, Metric::binary_accuracy});
  for (int e = 1; e <= 3; ++e) run.epoch(early, e, 1.0 - 0.1 * e);
  EXPECT_FALSE(run.context.stop_training);
  early.on_train_end(run.history);
  EXPECT_FALSE(early.restored());
  EXPECT_EQ(run.marker(), 3.0f);

  FakeRun worse;  // training ran out before the patience did: the best epoch's weights still come back
  early.set_context(&worse.context);
  early.on_train_begin({100, 10, 3, 32, Metric::binary_accuracy});
  for (int e = 1; e <= 3; ++e) worse.epoch(early, e, e == 1 ? 0.2 : 0.3);
  EXPECT_FALSE(worse.context.stop_training);
  early.on_train_end(worse.history);
  EXPECT_TRUE(early.restored());
  EXPECT_EQ(worse.marker(), 1.0f);
}

TEST(EarlyStopping, NeedsAPositivePatience) { EXPECT_THROW(EarlyStopping(0), ArgumentError); }

TEST(ReduceLROnPlateau, HalvesTheRateAfterTwoEpochsWithoutImprovement) {
  FakeRun run;
  ReduceLROnPlateau plateau;  // factor 0.5, patience 2, min_delta 1e-4
  plateau.set_context(&run.context);
  plateau.on_train_begin({100, 10, 10, 32, Metric::binary_accuracy});
  const std::vector<std::pair<double, double>> val_loss_then_lr = {
      {1.0, 1.0},      // first: the best so far
      {0.9, 1.0},      // improved
      {0.89995, 1.0},  // less than min_delta better: a plateau epoch
      {0.95, 0.5},     // the second: halved
      {0.8, 0.5},      // improved: the count starts again
      {0.85, 0.5}, {0.85, 0.25}, {0.85, 0.25}, {0.85, 0.125}};
  int epoch = 0;
  for (auto [val_loss, lr] : val_loss_then_lr) {
    run.epoch(plateau, ++epoch, val_loss);
    EXPECT_DOUBLE_EQ(run.optimizer->learning_rate, lr) << "epoch " << epoch;
  }
  EXPECT_FALSE(run.context.stop_training);
}

TEST(LearningRateScheduler, SetsEachEpochsRateFromItsSchedule) {
  FakeRun run;
  LearningRateScheduler cosine(LrSchedule::cosine, 0.001, 10);
  cosine.set_context(&run.context);
  cosine.on_epoch_begin(6);
  EXPECT_NEAR(run.optimizer->learning_rate, 0.0005, 1e-15);
  EXPECT_EQ(parse_lr_schedule("plateau"), LrSchedule::plateau);
  EXPECT_THROW(parse_lr_schedule("step"), ArgumentError);
}

TEST(ModelCheckpoint, SavesOnlyWhenValLossReachesANewLow) {
  FakeRun run;
  std::vector<std::size_t> saved;  // the history's length at each save
  ModelCheckpoint checkpoint([&](const History& so_far) { saved.push_back(so_far.epochs.size()); });
  checkpoint.set_context(&run.context);
  checkpoint.on_train_begin({100, 10, 5, 32, Metric::binary_accuracy});
  for (double v : {0.5, 0.6, 0.4, 0.4, 0.3}) run.epoch(checkpoint, int(run.history.epochs.size()) + 1, v);
  EXPECT_EQ(saved, (std::vector<std::size_t>{1, 3, 5}));
}

// A run stopped after `split` epochs and resumed with fresh callbacks, which replay the
// finished epochs (TrainBegin::resumed), decides every epoch as the uninterrupted run.
TEST(ResumedCallbacks, ThePlateauCountsAndRateCarryOver) {
  const std::vector<double> losses = {1.0, 0.9, 0.95, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88};
  FakeRun whole;
  ReduceLROnPlateau a;
  a.set_context(&whole.context);
  a.on_train_begin({100, 10, 9, 32, Metric::binary_accuracy});
  for (int e = 1; e <= 9; ++e) whole.epoch(a, e, losses[e - 1]);

  for (int split = 1; split < 9; ++split) {
    FakeRun first;
    ReduceLROnPlateau b;
    b.set_context(&first.context);
    b.on_train_begin({100, 10, 9, 32, Metric::binary_accuracy});
    for (int e = 1; e <= split; ++e) first.epoch(b, e, losses[e - 1]);

    FakeRun resumed;  // a new process: the optimizer starts at the configured rate again
    resumed.history = first.history;
    ReduceLROnPlateau c;
    c.set_context(&resumed.context);
    c.on_train_begin({100, 10, 9, 32, Metric::binary_accuracy, &first.history});
    for (int e = split + 1; e <= 9; ++e) resumed.epoch(c, e, losses[e - 1]);
    for (int e = 0; e < 9; ++e)
      EXPECT_EQ(resumed.history.epochs[e].lr, whole.history.epochs[e].lr) << "split " << split << ", epoch " << e + 1;
    EXPECT_EQ(resumed.optimizer->learning_rate, whole.optimizer->learning_rate) << split;
  }
  EXPECT_EQ(whole.optimizer->learning_rate, 0.125);  // the run crossed three plateaus
}

TEST(ResumedCallbacks, EarlyStoppingKeepsItsBestEpochAndItsWeights) {
  const double losses[] = {0.5, 0.4, 0.45, 0.46, 0.47};
  FakeRun first;
  EarlyStopping a(3);
  a.set_context(&first.context);
  a.on_train_begin({100, 10, 5, 32, Metric::binary_accuracy});
  for (int e = 1; e <= 3; ++e) first.epoch(a, e, losses[e - 1]);
  ASSERT_EQ(a.best_epoch(), 2);
  const std::vector<Tensor> kept = a.best_weights();  // what the checkpoint holds

  FakeRun resumed;
  for (Param* p : resumed.model->params()) p->value.fill(3.0f);  // the checkpoint's last weights
  resumed.history = first.history;
  EarlyStopping b(3);
  b.set_context(&resumed.context);
  b.resume_best_weights(kept);
  b.on_train_begin({100, 10, 5, 32, Metric::binary_accuracy, &first.history});
  resumed.epoch(b, 4, losses[3]);
  EXPECT_FALSE(resumed.context.stop_training);
  resumed.epoch(b, 5, losses[4]);  // the third epoch without improvement, as in one run
  EXPECT_TRUE(resumed.context.stop_training);
  EXPECT_EQ(b.stopped_epoch(), 5);
  b.on_train_end(resumed.history);
  EXPECT_TRUE(b.restored());
  EXPECT_EQ(resumed.marker(), 2.0f);

  EarlyStopping without(3);  // a checkpoint that lost them cannot restore epoch 2
  without.set_context(&resumed.context);
  EXPECT_THROW(without.on_train_begin({100, 10, 5, 32, Metric::binary_accuracy, &first.history}), DataError);
}

TEST(ResumedCallbacks, ModelCheckpointRemembersTheBestValLossSoFar) {
  History prior;
  for (double v : {0.5, 0.3}) prior.epochs.push_back(EpochLog{int(prior.epochs.size()) + 1, 0, 0, v});
  FakeRun run;
  run.history = prior;
  std::vector<std::size_t> saved;
  ModelCheckpoint checkpoint([&](const History& so_far) { saved.push_back(so_far.epochs.size()); });
  checkpoint.set_context(&run.context);
  checkpoint.on_train_begin({100, 10, 5, 32, Metric::binary_accuracy, &prior});
  for (double v : {0.4, 0.2}) run.epoch(checkpoint, int(run.history.epochs.size()) + 1, v);
  EXPECT_EQ(saved, (std::vector<std::size_t>{4}));  // 0.4 is no new low after 0.3; the save holds all 4 epochs
}

}  // namespace
}  // namespace dn
