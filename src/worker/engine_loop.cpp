#include "worker/engine_loop.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>

#include "narration/narrate.hpp"
#include "worker/job_runner.hpp"

namespace llorch::worker {

namespace n = llorch::narration;

struct EngineLoop::Running {
  std::shared_ptr<Job> job;
  std::unique_ptr<engine::KvCache> cache;
  std::unique_ptr<engine::Sequence> sequence;  // last: it points into the cache
  std::size_t told_position = 0;  // the place in line last narrated while waiting (0: none)
  bool started = false;           // started once (its prompt counted in the metrics)
  std::exception_ptr error;       // why its prompt cannot run (found while preparing it)
};

EngineLoop::EngineLoop(std::shared_ptr<const engine::Model> model, EngineLoopOptions options,
                       WorkerMetrics& metrics)
    : model_(std::move(model)),
      options_(options),
      tokenizer_(engine::Tokenizer::create(model_->vocab)),
      state_(model_, options_.threads),
      kv_pool_(model_->config, options_.kv_type,
               options_.kv_tokens > 0 ? options_.kv_tokens
                                      : options_.slots * model_->config.context_length,
               /*prefix_caching=*/true),
      metrics_(metrics) {
  update_gauges();
  thread_ = std::thread([this] { run(); });
}

EngineLoop::~EngineLoop() {
  {
    std::lock_guard lock(mutex_);
    closed_ = stopping_ = true;
    for (auto& job : jobs_) job->cancel = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool EngineLoop::try_start(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || jobs_.size() >= options_.slots) return false;
    jobs_.push_back(job);  // the slot is taken from here on
  }
  // Tokenizing (and narrating it) happens here, on the caller's thread — an HTTP thread — so
  // that the loop thread only computes.
  std::unique_ptr<Running> r = prepare(std::move(job));
  {
    std::lock_guard lock(mutex_);
    handed_over_.push_back(std::move(r));
  }
  wake_.notify_all();
  return true;
}

std::unique_ptr<EngineLoop::Running> EngineLoop::prepare(std::shared_ptr<Job> job) {
  auto r = std::make_unique<Running>();
  r->job = std::move(job);
  r->cache = std::make_unique<engine::KvCache>(kv_pool_);
  JobGeneration g = prepare_job(*r->job, options_.progress_every);
  r->sequence = std::make_unique<engine::Sequence>(model_, *tokenizer_, std::move(g.request),
                                                   std::move(g.hooks), *r->cache);
  try {
    r->sequence->begin();
    // The prompt and the first generated token's position must fit the whole cache.
    const std::size_t positions = r->sequence->tokens().size() + 1;
    if (engine::KvBlockPool::blocks_for(positions) > kv_pool_.total_blocks()) {
      throw std::invalid_argument("the prompt has " + std::to_string(positions - 1) +
                                  " tokens; the KV cache holds " + std::to_string(kv_tokens()) +
                                  " positions in all (raise the worker's --kv-size)");
    }
  } catch (const std::exception&) {
    r->error = std::current_exception();
  }
  return r;
}

bool EngineLoop::cancel(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  for (auto& job : jobs_) {
    if (job->context.job_id == job_id) {
      job->cancel = true;
      return true;
    }
  }
  return false;
}

void EngineLoop::cancel_all() {
  std::lock_guard lock(mutex_);
  for (auto& job : jobs_) job->cancel = true;
}

void EngineLoop::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

std::size_t EngineLoop::busy() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void EngineLoop::receive(std::vector<std::unique_ptr<Running>> arrived) {
  for (auto& r : arrived) {
    if (r->error) {
      try {
        std::rethrow_exception(r->error);
      } catch (const std::exception& e) {
        auto terminal = fail_job(*r->job, e, metrics_);
        retire(std::move(r), std::move(terminal));
      }
      continue;
    }
    waiting_.push_back(std::move(r));
  }
}

void EngineLoop::drop_cancelled_waiting() {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (!(*it)->sequence->cancel_requested()) {
      ++it;
      continue;
    }
    std::unique_ptr<Running> r = std::move(*it);
    it = waiting_.erase(it);
    r->sequence->stop(engine::StopReason::cancelled);
    auto terminal = finish_job(*r->job, r->sequence->result(), metrics_);
    retire(std::move(r), std::move(terminal));
  }
}

void EngineLoop::admit_waiting() {
  while (!waiting_.empty()) {
    Running& r = *waiting_.front();
    const auto tokens = r.sequence->tokens();
    // Cached blocks first (a chat turn resends the conversation; only its new part is
    // computed), then blocks for the rest of the prompt: a started prompt never waits.
    const std::size_t reused = r.cache->adopt_prefix(tokens, tokens.size() - 1);
    if (!r.cache->prepare(reused, tokens.size() - reused)) {
      r.cache->clear();
      for (std::size_t i = 0; i < waiting_.size(); ++i) {
        Running& w = *waiting_[i];
        if (w.told_position == i + 1) continue;
        w.told_position = i + 1;
        const n::RequestScope scope(w.job->context);
        n::info(n::actor::inference_engine, n::action::sequence_waiting)
            .target("kv-cache")
            .human("Waiting for KV cache space: {} in line ({} of {} blocks in use)", i + 1,
                   kv_pool_.used_blocks(), kv_pool_.total_blocks())
            .cute("The notebook is full; number {} in line for a page ⏳", i + 1)
            .emit();
      }
      return;
    }
    r.sequence->start_prompt(*r.cache, reused);
    r.told_position = 0;
    if (!r.started) {
      r.started = true;
      metrics_.count_prefix_hit(r.sequence->reused());
      metrics_.count_prompt_tokens(tokens.size());
    }
    if (!running_.empty()) {
      const n::RequestScope scope(r.job->context);
      n::info(n::actor::inference_engine, n::action::batch_joined)
          .target(r.job->context.job_id)
          .human("Joined a batch of {} sequences", running_.size() + 1)
          .cute("Sharing the engine with {} others 🤝", running_.size())
          .emit();
    }
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void EngineLoop::make_room() {
  for (std::size_t i = 0; i < running_.size(); ++i) {
    Running& r = *running_[i];
    if (r.sequence->done() || r.sequence->in_prompt()) continue;
    const std::size_t pos = r.sequence->position();
    while (!r.cache->prepare(pos, 1)) {
      if (running_.size() == 1) {
        // Alone and still no room: the sequence has the whole cache. It ends as at the end of
        // the context, and says why.
        const n::RequestScope scope(r.job->context);
        n::warn(n::actor::inference_engine, n::action::sequence_waiting)
            .target("kv-cache")
            .human("The KV cache is full ({} positions): ending at {} tokens", kv_tokens(), pos)
            .cute("Out of pages in the notebook at {} tokens 📕", pos)
            .emit();
        r.sequence->stop(engine::StopReason::context_full);
        break;
      }
      // The newest sequence steps aside (first come, first served), possibly this one.
      const std::size_t victim = running_.size() - 1;
      preempt(victim);
      if (victim == i) break;
    }
  }
}

void EngineLoop::preempt(std::size_t index) {
  std::unique_ptr<Running> r = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  r->sequence->preempt();  // narrates in its request's scope (the hooks carry it)
  r->cache->clear();       // its full blocks stay cached: resuming may find them still there
  metrics_.count_preemption();
  waiting_.push_front(std::move(r));
}

void EngineLoop::retire(std::unique_ptr<Running> done, narration::StreamMessage terminal) {
  const std::shared_ptr<Job> job = done->job;
  done.reset();  // its blocks back to the pool
  update_gauges();
  {
    // The slot is free before the stream ends: a client that sends its next request on seeing
    // the end never finds the slot still taken.
    std::lock_guard lock(mutex_);
    std::erase(jobs_, job);
  }
  job->context.channel->push(std::move(terminal));
  job->context.channel->close();
}

void EngineLoop::update_gauges() {
  metrics_.set_sequences_running(running_.size());
  metrics_.set_sequences_waiting(waiting_.size());
  metrics_.set_kv_blocks(kv_pool_.used_blocks(), kv_pool_.total_blocks());
}

void EngineLoop::run() {
  for (;;) {
    std::vector<std::unique_ptr<Running>> arrived;
    {
      std::unique_lock lock(mutex_);
      // Waiting sequences with none running can always start (every block is free then).
      wake_.wait(lock, [&] {
        return stopping_ || !handed_over_.empty() || !running_.empty() || !waiting_.empty();
      });
      // jobs_ also holds those still being prepared on an HTTP thread: each gets its ending.
      if (stopping_ && jobs_.empty()) return;
      for (auto& r : handed_over_) arrived.push_back(std::move(r));
      handed_over_.clear();
    }
    receive(std::move(arrived));
    drop_cancelled_waiting();
    admit_waiting();
    make_room();
    update_gauges();
    std::vector<engine::Sequence*> sequences;
    for (auto& r : running_) sequences.push_back(r->sequence.get());
    try {
      const std::size_t ran = engine::run_batch_step(state_, sequences, options_.step_tokens);
      if (ran > 0) metrics_.observe_step_tokens(ran);
    } catch (const std::exception& e) {
      // A step that fails fails every sequence in it: each stream ends with the error.
      while (!running_.empty()) {
        std::unique_ptr<Running> r = std::move(running_.back());
        running_.pop_back();
        auto terminal = fail_job(*r->job, e, metrics_);
        retire(std::move(r), std::move(terminal));
      }
      continue;
    }
    for (std::size_t i = running_.size(); i-- > 0;) {
      if (!running_[i]->sequence->done()) continue;
      std::unique_ptr<Running> r = std::move(running_[i]);
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
      auto terminal = finish_job(*r->job, r->sequence->result(), metrics_);
      retire(std::move(r), std::move(terminal));  // updates the gauges
    }
  }
}

}  // namespace llorch::worker
