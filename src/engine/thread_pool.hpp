// A persistent pool of worker threads for splitting one loop over the cores: threads are created
// once, not per token, and wait for the next loop spinning for a few microseconds before they
// sleep — a token runs ~150 loops, and waking a sleeping thread costs tens of microseconds.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llorch::engine {

// parallel_for() is called from one thread at a time (the engine's); it returns when every
// chunk has run. The calling thread takes a share of the work itself.
class ThreadPool {
 public:
  explicit ThreadPool(std::size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const noexcept { return workers_.size() + 1; }

  // Runs body(begin, end) over [0, n) in contiguous chunks (a few per thread, taken in turn).
  void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body);

 private:
  void work(std::size_t index);
  void run_chunks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  const std::function<void(std::size_t, std::size_t)>* body_ = nullptr;
  std::size_t n_ = 0;
  std::size_t chunk_ = 1;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> generation_{0};
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace llorch::engine
