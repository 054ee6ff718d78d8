// The worker's engine loop: one thread owns the model and every running sequence. Each step it
// admits the jobs handed over, runs one forward pass over all of them (generating sequences a
// token each, prompts in chunks within a token budget: continuous batching), delivers tokens to
// each job's stream and retires the finished ones. Network threads hand jobs over and set cancel
// flags; generation never runs on them. `slots` is the most jobs running at once, each with a KV
// cache of its own.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/generator.hpp"
#include "worker/job.hpp"
#include "worker/worker_metrics.hpp"

namespace llorch::worker {

// Thread-safe.
class SlotPool {
 public:
  SlotPool(std::shared_ptr<const engine::Model> model, std::size_t slots, std::size_t threads,
           WorkerMetrics& metrics, std::size_t progress_every,
           engine::TensorType kv_type = engine::TensorType::f16);
  ~SlotPool();  // cancels running jobs and joins the loop

  // Hands `job` to the loop; false when `slots` jobs are already running or the pool is closed.
  bool try_start(std::shared_ptr<Job> job);
  // Sets the cancel flag of the job with this id (taking effect at the next step); false when
  // there is none.
  bool cancel(const std::string& job_id);
  void cancel_all();
  // Refuses new jobs from now on.
  void close();

  std::size_t total() const noexcept { return slots_; }
  std::size_t busy() const;

  // Prompt and decode tokens one step may run (decode tokens always do).
  static constexpr std::size_t kStepTokens = 64;

 private:
  struct Running;
  void run();
  // Admits what was handed over; a job whose prompt cannot run ends at once.
  void admit(std::vector<std::shared_ptr<Job>> jobs);
  // Ends a job: frees its slot, then sends its terminal event and closes its stream.
  void retire(std::size_t index, narration::StreamMessage terminal);

  std::shared_ptr<const engine::Model> model_;
  std::unique_ptr<engine::Tokenizer> tokenizer_;
  engine::ModelState state_;
  WorkerMetrics& metrics_;
  std::size_t progress_every_;
  std::size_t slots_;
  std::vector<std::unique_ptr<engine::KvCache>> free_caches_;  // the loop thread's
  std::vector<std::unique_ptr<Running>> running_;              // the loop thread's

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> handed_over_;  // guarded by mutex_
  std::vector<std::shared_ptr<Job>> jobs_;        // every job handed over and not retired
  bool closed_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace llorch::worker
