#include "engine/thread_pool.hpp"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLORCH_CPU_RELAX() _mm_pause()
#else
#define LLORCH_CPU_RELAX() std::this_thread::yield()
#endif

namespace llorch::engine {

namespace {

// How long a waiting thread spins before it sleeps (or yields, for the caller).
constexpr auto kSpin = std::chrono::microseconds(200);

}  // namespace

ThreadPool::ThreadPool(std::size_t threads) {
  for (std::size_t i = 1; i < std::max<std::size_t>(threads, 1); ++i) {
    workers_.emplace_back([this, i] { work(i); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::parallel_for(std::size_t n,
                              const std::function<void(std::size_t, std::size_t)>& body) {
  if (workers_.empty() || n < 2) {
    body(0, n);
    return;
  }
  {
    // Under the mutex, so that a worker about to sleep cannot miss the new generation.
    std::lock_guard lock(mutex_);
    body_ = &body;
    n_ = n;
    // Large loops go in a few chunks per thread, taken in turn: a thread slowed by something else
    // on the machine takes fewer, instead of holding everyone up at the end. Small ones (a tiny
    // model's rows) in one chunk each, where taking turns would cost more than it evens out.
    const std::size_t per_thread = n >= 1024 ? 4 : 1;
    chunk_ = std::max<std::size_t>(1, (n + per_thread * size() - 1) / (per_thread * size()));
    next_.store(0, std::memory_order_relaxed);
    pending_.store(workers_.size(), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_.notify_all();
  run_chunks();
  const auto spin_until = std::chrono::steady_clock::now() + kSpin;
  while (pending_.load(std::memory_order_acquire) != 0) {
    if (std::chrono::steady_clock::now() < spin_until) {
      LLORCH_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::run_chunks() {
  for (;;) {
    const std::size_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (begin >= n_) return;
    (*body_)(begin, std::min(n_, begin + chunk_));
  }
}

void ThreadPool::work(std::size_t /*index*/) {
  std::size_t seen = 0;
  for (;;) {
    // Spin first: the next loop usually comes within microseconds.
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    while (generation_.load(std::memory_order_acquire) == seen && !stopping_ &&
           std::chrono::steady_clock::now() < spin_until) {
      LLORCH_CPU_RELAX();
    }
    std::unique_lock lock(mutex_);
    start_.wait(lock, [&] { return stopping_ || generation_.load() != seen; });
    if (stopping_) return;
    seen = generation_.load();
    lock.unlock();
    run_chunks();
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace llorch::engine
