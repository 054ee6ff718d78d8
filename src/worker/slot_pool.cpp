#include "worker/slot_pool.hpp"

#include <algorithm>

#include "narration/narrate.hpp"
#include "worker/job_runner.hpp"

namespace llorch::worker {

namespace n = llorch::narration;

struct SlotPool::Running {
  std::shared_ptr<Job> job;
  std::unique_ptr<engine::KvCache> cache;
  std::unique_ptr<engine::Sequence> sequence;
};

SlotPool::SlotPool(std::shared_ptr<const engine::Model> model, std::size_t slots,
                   std::size_t threads, WorkerMetrics& metrics, std::size_t progress_every,
                   engine::TensorType kv_type)
    : model_(std::move(model)),
      tokenizer_(engine::Tokenizer::create(model_->vocab)),
      state_(model_, threads),
      metrics_(metrics),
      progress_every_(progress_every),
      slots_(slots) {
  for (std::size_t i = 0; i < slots; ++i)
    free_caches_.push_back(std::make_unique<engine::KvCache>(model_->config, kv_type));
  thread_ = std::thread([this] { run(); });
}

SlotPool::~SlotPool() {
  {
    std::lock_guard lock(mutex_);
    closed_ = stopping_ = true;
    for (auto& job : jobs_) job->cancel = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool SlotPool::try_start(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || jobs_.size() >= slots_) return false;
    jobs_.push_back(job);
    handed_over_.push_back(std::move(job));
  }
  wake_.notify_all();
  return true;
}

bool SlotPool::cancel(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  for (auto& job : jobs_) {
    if (job->context.job_id == job_id) {
      job->cancel = true;
      return true;
    }
  }
  return false;
}

void SlotPool::cancel_all() {
  std::lock_guard lock(mutex_);
  for (auto& job : jobs_) job->cancel = true;
}

void SlotPool::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

std::size_t SlotPool::busy() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void SlotPool::admit(std::vector<std::shared_ptr<Job>> jobs) {
  for (auto& job : jobs) {
    auto running = std::make_unique<Running>();
    running->job = job;
    running->cache = std::move(free_caches_.back());
    free_caches_.pop_back();
    JobGeneration g = prepare_job(*job, progress_every_);
    running->sequence = std::make_unique<engine::Sequence>(
        model_, *tokenizer_, std::move(g.request), std::move(g.hooks), *running->cache);
    running_.push_back(std::move(running));
    Running& r = *running_.back();
    try {
      r.sequence->begin();
    } catch (const std::exception& e) {
      retire(running_.size() - 1, fail_job(*job, e, metrics_));
      continue;
    }
    // Prefix reuse: the free cache that already holds the longest start of this prompt (a chat
    // turn resends the conversation; only its new part is computed).
    std::size_t reused = r.sequence->reusable(*r.cache);
    for (auto& free : free_caches_) {
      if (const std::size_t held = r.sequence->reusable(*free); held > reused) {
        std::swap(free, r.cache);
        reused = held;
      }
    }
    r.sequence->start_prompt(*r.cache, reused);
    metrics_.count_prefix_hit(r.sequence->reused());
    metrics_.count_prompt_tokens(r.sequence->result().prompt_tokens.size());
    if (running_.size() > 1) {
      n::RequestScope scope(job->context);
      n::info(n::actor::inference_engine, n::action::batch_joined)
          .target(job->context.job_id)
          .human("Joined a batch of {} sequences", running_.size())
          .cute("Sharing the engine with {} others 🤝", running_.size() - 1)
          .emit();
    }
  }
}

void SlotPool::retire(std::size_t index, narration::StreamMessage terminal) {
  std::unique_ptr<Running> done = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  free_caches_.push_back(std::move(done->cache));
  {
    // The slot is free before the stream ends: a client that sends its next request on seeing
    // the end never finds the slot still taken.
    std::lock_guard lock(mutex_);
    std::erase(jobs_, done->job);
  }
  done->job->context.channel->push(std::move(terminal));
  done->job->context.channel->close();
}

void SlotPool::run() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> arrived;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !handed_over_.empty() || !running_.empty(); });
      if (stopping_ && handed_over_.empty() && running_.empty()) return;
      arrived.assign(handed_over_.begin(), handed_over_.end());
      handed_over_.clear();
    }
    admit(std::move(arrived));
    std::vector<engine::Sequence*> sequences;
    for (auto& r : running_) sequences.push_back(r->sequence.get());
    metrics_.set_sequences_running(sequences.size());
    try {
      metrics_.observe_step_tokens(engine::run_batch_step(state_, sequences, kStepTokens));
    } catch (const std::exception& e) {
      // A step that fails fails every sequence in it: each stream ends with the error.
      while (!running_.empty()) retire(0, fail_job(*running_[0]->job, e, metrics_));
      continue;
    }
    for (std::size_t i = running_.size(); i-- > 0;) {
      if (running_[i]->sequence->done()) {
        Running& r = *running_[i];
        retire(i, finish_job(*r.job, r.sequence->result(), metrics_));
      }
    }
    metrics_.set_sequences_running(running_.size());
  }
}

}  // namespace llorch::worker
