#include "serve/worker_pool.hpp"

#include <fmt/core.h>
#include <omp.h>

#include "core/error.hpp"

namespace dn {

WorkerPool::WorkerPool(Layer* denoiser, Layer* classifier, Layer* noisy_classifier, int workers, int queue_capacity,
                       std::chrono::milliseconds max_wait)
    : capacity_(queue_capacity), max_wait_(max_wait) {
  if (workers < 1) throw ArgumentError("workers", fmt::format("must be >= 1 (got {})", workers));
  if (queue_capacity < 0) throw ArgumentError("queue", fmt::format("must be >= 0 (got {})", queue_capacity));
  models_.resize(std::size_t(workers));
  for (WorkerModels& m : models_) {
    if (denoiser) m.denoiser = denoiser->clone();
    if (classifier) m.classifier = classifier->clone();
    if (noisy_classifier) m.noisy_classifier = noisy_classifier->clone();
  }
  threads_.reserve(std::size_t(workers));
  for (WorkerModels& m : models_) threads_.emplace_back([this, &m] { work(m); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::run(const std::function<void(WorkerModels&)>& job) {
  auto j = std::make_shared<Job>();
  j->work = job;
  j->deadline = std::chrono::steady_clock::now() + max_wait_;
  std::future<void> done = j->done.get_future();
  {
    std::lock_guard lock(mutex_);
    // Waiting jobs beyond the capacity are refused; a worker that is free takes the job at once.
    if (stopping_ || int(queue_.size()) >= capacity_ + idle_) throw BusyError("the server is busy: try again shortly");
    queue_.push_back(std::move(j));
  }
  ready_.notify_one();
  done.get();
}

void WorkerPool::work(WorkerModels& models) {
  // Requests run side by side on the workers; one request's layers use one core, so
  // that the workers do not compete for cores with OpenMP teams of their own.
  omp_set_num_threads(1);
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      ++idle_;
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // stopping, and every queued job is done
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (std::chrono::steady_clock::now() > job->deadline) {
      job->done.set_exception(std::make_exception_ptr(BusyError("the server is busy: the request waited too long")));
      continue;
    }
    try {
      job->work(models);
      job->done.set_value();
    } catch (...) {
      job->done.set_exception(std::current_exception());
    }
  }
}

}  // namespace dn
