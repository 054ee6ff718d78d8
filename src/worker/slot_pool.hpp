// The worker's engine threads: N slots, each a thread with its own KV cache (Generator) over the
// shared model. Network threads hand jobs over; generation never runs on them.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/generator.hpp"
#include "worker/job.hpp"

namespace llorch::worker {

// Runs one job on a slot's thread and returns its terminal event (`end` or `error`), which the
// pool sends — and closes the stream with — only once the slot is free again, so that a client
// who sends its next request on seeing the end never finds the slot still taken.
using JobRunner = std::function<narration::StreamMessage(engine::Generator& generator, Job& job)>;

// Thread-safe.
class SlotPool {
 public:
  SlotPool(std::shared_ptr<const engine::Model> model, std::size_t slots,
           std::size_t threads_per_slot, JobRunner runner);
  ~SlotPool();  // cancels running jobs and joins the threads

  // Starts `job` on a free slot; false when every slot is busy or the pool is closed.
  bool try_start(std::shared_ptr<Job> job);
  // Sets the cancel flag of the running job with this id; false when there is none.
  bool cancel(const std::string& job_id);
  void cancel_all();
  // Refuses new jobs from now on.
  void close();

  std::size_t total() const noexcept { return slots_.size(); }
  std::size_t busy() const;

 private:
  struct Slot {
    std::unique_ptr<engine::Generator> generator;
    std::shared_ptr<Job> job;  // guarded by mutex_
    std::thread thread;
  };
  void run(Slot& slot);

  JobRunner runner_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool closed_ = false;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace llorch::worker
