#pragma once
// A fixed set of inference workers, each a thread with its own copies of the models
// (layers keep their activations, so one model cannot serve two requests at once),
// fed from a bounded queue. A full queue refuses new work at once (BusyError), and a
// job that waited past its deadline is dropped unrun, so a flood of requests costs a
// bounded amount of memory and every caller gets an answer in bounded time.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "nn/layer.hpp"

namespace dn {

// The server is at capacity: answered as HTTP 503.
struct BusyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One worker's models; a role the server was not given is null.
struct WorkerModels {
  std::unique_ptr<Layer> denoiser, classifier, noisy_classifier;
};

class WorkerPool {
 public:
  // workers >= 1 threads, each with clones of the given models (null ones stay null);
  // at most queue_capacity jobs wait; a job not started within max_wait is dropped.
  WorkerPool(Layer* denoiser, Layer* classifier, Layer* noisy_classifier, int workers, int queue_capacity,
             std::chrono::milliseconds max_wait);
  // Finishes the queued jobs, then joins the workers.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs job on a worker and waits for it; its exceptions reach the caller. BusyError
  // when the queue is full or the job waited past max_wait.
  void run(const std::function<void(WorkerModels&)>& job);

  int workers() const { return int(threads_.size()); }
  int queue_capacity() const { return capacity_; }

 private:
  struct Job {
    std::function<void(WorkerModels&)> work;
    std::chrono::steady_clock::time_point deadline;
    std::promise<void> done;
  };
  void work(WorkerModels& models);

  std::vector<WorkerModels> models_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<Job>> queue_;
  int capacity_;
  std::chrono::milliseconds max_wait_;
  int idle_ = 0;  // workers waiting for a job
  bool stopping_ = false;
};

}  // namespace dn
