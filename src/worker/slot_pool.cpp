#include "worker/slot_pool.hpp"

namespace llorch::worker {

SlotPool::SlotPool(std::shared_ptr<const engine::Model> model, std::size_t slots,
                   std::size_t threads_per_slot, JobRunner runner)
    : runner_(std::move(runner)) {
  for (std::size_t i = 0; i < slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->generator = std::make_unique<engine::Generator>(model, threads_per_slot);
    slots_.push_back(std::move(slot));
  }
  for (auto& slot : slots_) slot->thread = std::thread([this, s = slot.get()] { run(*s); });
}

SlotPool::~SlotPool() {
  {
    std::lock_guard lock(mutex_);
    closed_ = stopping_ = true;
    for (auto& slot : slots_) {
      if (slot->job) slot->job->cancel = true;
    }
  }
  wake_.notify_all();
  for (auto& slot : slots_) slot->thread.join();
}

bool SlotPool::try_start(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    const auto free =
        std::find_if(slots_.begin(), slots_.end(), [](const auto& s) { return !s->job; });
    if (free == slots_.end()) return false;
    (*free)->job = std::move(job);
  }
  wake_.notify_all();
  return true;
}

bool SlotPool::cancel(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    if (slot->job && slot->job->context.job_id == job_id) {
      slot->job->cancel = true;
      return true;
    }
  }
  return false;
}

void SlotPool::cancel_all() {
  std::lock_guard lock(mutex_);
  for (auto& slot : slots_) {
    if (slot->job) slot->job->cancel = true;
  }
}

void SlotPool::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

std::size_t SlotPool::busy() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const auto& s) { return s->job != nullptr; }));
}

void SlotPool::run(Slot& slot) {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || slot.job != nullptr; });
      if (slot.job == nullptr) return;  // stopping with nothing to do
      job = slot.job;
    }
    narration::StreamMessage terminal = runner_(*slot.generator, *job);
    {
      std::lock_guard lock(mutex_);
      slot.job.reset();  // the slot is free again
    }
    job->context.channel->push(std::move(terminal));
    job->context.channel->close();
  }
}

}  // namespace llorch::worker
