// The worker's engine loop: one thread owns the model, the paged KV cache and every sequence.
// Each step it admits waiting sequences while the cache has blocks for them (taking cached prefix
// blocks first), makes room for each running sequence's next position (preempting the newest one
// when the cache is full: it is recomputed later, never truncated), runs one forward pass over all
// of them (generating sequences a token each, prompts in chunks within a token budget: continuous
// batching), delivers tokens to each job's stream and retires the finished ones. Network threads
// hand jobs over and set cancel flags; generation never runs on them.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/generator.hpp"
#include "engine/kv_cache.hpp"
#include "worker/job.hpp"
#include "worker/worker_metrics.hpp"

namespace llorch::worker {

struct EngineLoopOptions {
  std::size_t slots = 1;  // the most jobs handed over (running or waiting) at once
  std::size_t threads = 1;
  std::size_t progress_every = 10;
  engine::TensorType kv_type = engine::TensorType::f16;
  std::size_t kv_tokens = 0;     // positions in the KV cache, all sequences; 0: slots × context
  std::size_t step_tokens = 64;  // prompt and decode tokens per step (decode tokens always run)
};

// Thread-safe.
class EngineLoop {
 public:
  // Throws std::invalid_argument for a KV cache the model cannot have (see KvBlockPool).
  EngineLoop(std::shared_ptr<const engine::Model> model, EngineLoopOptions options,
             WorkerMetrics& metrics);
  ~EngineLoop();  // cancels running jobs and joins the loop

  // Hands `job` to the loop; false when `slots` jobs are already in it or the loop is closed.
  bool try_start(std::shared_ptr<Job> job);
  // Sets the cancel flag of the job with this id (taking effect at the next step, also for a job
  // still waiting); false when there is none.
  bool cancel(const std::string& job_id);
  void cancel_all();
  // Refuses new jobs from now on.
  void close();

  std::size_t total() const noexcept { return options_.slots; }
  std::size_t busy() const;
  std::size_t kv_tokens() const noexcept {
    return kv_pool_.total_blocks() * engine::KvBlockPool::kBlockTokens;
  }
  std::size_t kv_bytes() const noexcept { return kv_pool_.bytes(); }

 private:
  struct Running;
  void run();
  // A job's sequence, its prompt tokenized (on the calling thread) or the reason it cannot run.
  std::unique_ptr<Running> prepare(std::shared_ptr<Job> job);
  // Queues what was handed over; a job whose prompt cannot run ends at once.
  void receive(std::vector<std::unique_ptr<Running>> arrived);
  // Ends waiting jobs whose cancel flag is set.
  void drop_cancelled_waiting();
  // Starts waiting sequences, oldest first, while the cache has blocks for them.
  void admit_waiting();
  // Gives every generating sequence a block for its next position, preempting the newest
  // sequences while the cache has none.
  void make_room();
  void preempt(std::size_t index);
  // Ends a job: frees its slot, then sends its terminal event and closes its stream.
  void retire(std::unique_ptr<Running> done, narration::StreamMessage terminal);
  void update_gauges();

  std::shared_ptr<const engine::Model> model_;
  EngineLoopOptions options_;
  std::unique_ptr<engine::Tokenizer> tokenizer_;
  engine::ModelState state_;
  engine::KvBlockPool kv_pool_;
  WorkerMetrics& metrics_;
  std::deque<std::unique_ptr<Running>> waiting_;   // the loop thread's; front: first to start
  std::vector<std::unique_ptr<Running>> running_;  // the loop thread's; in order of starting

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Running>> handed_over_;  // guarded by mutex_; prepared, not yet queued
  std::vector<std::shared_ptr<Job>> jobs_;            // every job handed over and not retired
  bool closed_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace llorch::worker
