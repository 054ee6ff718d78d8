#include "orchestrator/registry_watch.hpp"

#include <fmt/format.h>

#include <map>

#include "narration/narrate.hpp"
#include "orchestrator/last_problem.hpp"
#include "state/nats_bucket.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;
using namespace std::chrono_literals;

RegistryWatch::RegistryWatch(state::StateConfig config, Scheduler& scheduler,
                             std::shared_ptr<state::NatsLink> link)
    : config_(std::move(config)), scheduler_(scheduler), link_(std::move(link)) {
  thread_ = std::thread([this] { run(); });
}

RegistryWatch::~RegistryWatch() {
  stop();
}

void RegistryWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RegistryWatch::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool RegistryWatch::apply(const std::string& key, const std::string& value) {
  std::vector<api::FieldError> errors;
  auto report = parse_pool_report(value, true, errors);
  if (!report || report->pool_id != key) return false;  // not a pool's entry: ignored
  if (!known_.contains(key)) {
    n::info(n::actor::orchestrator, n::action::pool_register)
        .target(key)
        .human("Pool {} registered through NATS from {} with {} worker(s)", key, report->url,
               report->workers.size())
        .pool_id(key)
        .emit();
  }
  known_[key] = report->url;
  scheduler_.update_pool(std::move(*report), true);
  return true;
}

void RegistryWatch::drop(const std::string& key) {
  const auto it = known_.find(key);
  if (it == known_.end()) return;
  const std::string url = it->second;
  known_.erase(it);
  if (!scheduler_.forget_pool(key)) return;
  n::warn(n::actor::orchestrator, n::action::pool_deregister)
      .target(key)
      .human("Pool {} ({}) left the registry: it said goodbye, or no heartbeat for {} ms", key, url,
             config_.registry_ttl.count())
      .pool_id(key)
      .emit();
}

void RegistryWatch::run() {
  std::unique_ptr<state::NatsBucket> bucket;
  LastProblem problem;
  for (;;) {
    // Once a second: every entry read afresh, which also notices the ones that expired.
    try {
      if (!bucket) {
        bucket = state::open_pool_registry(config_, link_);
        n::info(n::actor::orchestrator, n::action::pool_register)
            .target(config_.url)
            .human(
                "Reading the pool registry on NATS at {} (entries live {} ms past a pool's "
                "last heartbeat)",
                config_.url, config_.registry_ttl.count())
            .emit();
      }
      std::map<std::string, bool> present;
      for (const auto& [key, value] : bucket->entries()) present[key] = apply(key, value);
      std::vector<std::string> gone;
      for (const auto& [id, url] : known_)
        if (!present[id]) gone.push_back(id);
      for (const auto& id : gone) drop(id);
      problem.clear();
    } catch (const std::exception& e) {
      bucket.reset();
      if (problem.news(e.what())) {
        n::error(n::actor::orchestrator, n::action::pool_register)
            .target(config_.url)
            .human("Cannot read the pool registry: {}; retrying every second", e.what())
            .error_kind("STATE_UNAVAILABLE")
            .emit();
      }
    }
    if (follow_changes(bucket.get())) return;
  }
}

bool RegistryWatch::follow_changes(state::NatsBucket* bucket) {
  // Between full reads, each write or delete as it comes: a new pool is used within a round trip
  // and a goodbye heard at once. A quarter second at a time, so that stop() is heard.
  const auto until = std::chrono::steady_clock::now() + 1000ms;
  while (std::chrono::steady_clock::now() < until) {
    if (stopping()) return true;
    if (bucket == nullptr) {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, 250ms, [this] { return stopping_; })) return true;
      continue;
    }
    try {
      const auto change = bucket->next_change(250ms);
      if (!change) continue;
      if (change->deleted) {
        drop(change->key);
      } else {
        apply(change->key, change->value);
      }
    } catch (const std::exception&) {
      // The full read, at the second, reports it (and connects afresh if it must).
      std::unique_lock lock(mutex_);
      return wake_.wait_until(lock, until, [this] { return stopping_; });
    }
  }
  return stopping();
}

}  // namespace llorch::orchestrator
