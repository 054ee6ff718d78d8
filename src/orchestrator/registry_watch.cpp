#include "orchestrator/registry_watch.hpp"

#include <fmt/format.h>

#include <map>

#include "narration/narrate.hpp"
#include "pool/registrar.hpp"
#include "state/nats_bucket.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;
using namespace std::chrono_literals;

RegistryWatch::RegistryWatch(state::StateConfig config, Scheduler& scheduler)
    : config_(std::move(config)), scheduler_(scheduler) {
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

void RegistryWatch::run() {
  std::unique_ptr<state::NatsBucket> bucket;
  std::map<std::string, std::string> known;  // pool id → its url
  std::string problem;                       // the last one narrated
  for (;;) {
    try {
      if (!bucket) {
        bucket = std::make_unique<state::NatsBucket>(config_, pool::kPoolRegistryBucket,
                                                     config_.registry_ttl);
        n::info(n::actor::orchestrator, n::action::pool_register)
            .target(config_.url)
            .human(
                "Reading the pool registry on NATS at {} (entries live {} ms past a pool's "
                "last heartbeat)",
                config_.url, config_.registry_ttl.count())
            .emit();
      }
      std::map<std::string, std::string> now;
      for (const auto& [key, value] : bucket->entries()) {
        std::vector<api::FieldError> errors;
        auto report = parse_pool_report(value, true, errors);
        if (!report || report->pool_id != key) continue;  // not a pool's entry: ignored
        now[key] = report->url;
        if (!known.contains(key)) {
          n::info(n::actor::orchestrator, n::action::pool_register)
              .target(key)
              .human("Pool {} registered through NATS from {} with {} worker(s)", key, report->url,
                     report->workers.size())
              .pool_id(key)
              .emit();
        }
        scheduler_.update_pool(std::move(*report), true);
      }
      for (const auto& [id, url] : known) {
        if (now.contains(id) || !scheduler_.forget_pool(id)) continue;
        n::warn(n::actor::orchestrator, n::action::pool_deregister)
            .target(id)
            .human("Pool {} ({}) left the registry: it said goodbye, or no heartbeat for {} ms", id,
                   url, config_.registry_ttl.count())
            .pool_id(id)
            .emit();
      }
      known = std::move(now);
      problem.clear();
    } catch (const std::exception& e) {
      bucket.reset();
      if (problem != e.what()) {
        problem = e.what();
        n::error(n::actor::orchestrator, n::action::pool_register)
            .target(config_.url)
            .human("Cannot read the pool registry: {}; retrying every second", problem)
            .error_kind("STATE_UNAVAILABLE")
            .emit();
      }
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, bucket ? 500ms : 1000ms, [this] { return stopping_; })) return;
  }
}

}  // namespace llorch::orchestrator
