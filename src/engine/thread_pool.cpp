#include "engine/thread_pool.hpp"

namespace llorch::engine {

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
    std::lock_guard lock(mutex_);
    body_ = &body;
    n_ = n;
    pending_ = workers_.size();
    ++generation_;
  }
  start_.notify_all();
  const std::size_t chunk = (n + size() - 1) / size();
  body(0, std::min(n, chunk));
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  body_ = nullptr;
}

void ThreadPool::work(std::size_t index) {
  std::size_t seen = 0;
  for (;;) {
    std::unique_lock lock(mutex_);
    start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    const auto* body = body_;
    const std::size_t n = n_;
    lock.unlock();

    const std::size_t chunk = (n + size() - 1) / size();
    const std::size_t begin = std::min(n, index * chunk);
    const std::size_t end = std::min(n, begin + chunk);
    if (begin < end) (*body)(begin, end);

    lock.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}

}  // namespace llorch::engine
