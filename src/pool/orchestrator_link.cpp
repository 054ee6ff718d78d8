#include "pool/orchestrator_link.hpp"

#include <fmt/format.h>

#include "narration/narrate.hpp"

namespace llorch::pool {

namespace n = llorch::narration;

OrchestratorLink::OrchestratorLink(OrchestratorLinkConfig config,
                                   std::unique_ptr<Registrar> registrar,
                                   std::function<nlohmann::ordered_json()> workers)
    : config_(std::move(config)), registrar_(std::move(registrar)), workers_(std::move(workers)) {
  thread_ = std::thread([this] { run(); });
}

OrchestratorLink::~OrchestratorLink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OrchestratorLink::run() {
  bool failing = false;
  const std::string where = registrar_->where();
  for (;;) {
    const nlohmann::ordered_json report{
        {"pool_id", config_.pool_id}, {"url", config_.pool_url}, {"workers", workers_()}};
    std::string problem;
    bool first = false;
    const bool ok = registrar_->announce(report, first, problem);
    if (ok && first) {
      n::info(n::actor::pool_manager, n::action::pool_register)
          .target(where)
          .human("Registered pool {} with {} ({} worker(s))", config_.pool_id, where,
                 report["workers"].size())
          .emit();
    } else if (ok) {
      n::debug(n::actor::pool_manager, n::action::pool_heartbeat)
          .target(where)
          .human("Heartbeat to {} ({} worker(s))", where, report["workers"].size())
          .emit();
    }
    if (!ok && !failing) {
      n::warn(n::actor::pool_manager, n::action::pool_heartbeat)
          .target(where)
          .human("Cannot reach {}: {}; retrying every {} ms", where, problem,
                 config_.interval.count())
          .error_kind("ORCHESTRATOR_UNREACHABLE")
          .emit();
    } else if (ok && failing) {
      n::info(n::actor::pool_manager, n::action::pool_heartbeat)
          .target(where)
          .human("{} answers again", where)
          .emit();
    }
    failing = !ok;
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, config_.interval, [&] { return stopping_ || nudged_; });
    if (stopping_) return;
    nudged_ = false;
  }
}

void OrchestratorLink::nudge() {
  {
    std::lock_guard lock(mutex_);
    nudged_ = true;
  }
  wake_.notify_all();
}

void OrchestratorLink::goodbye() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::string problem;
  if (registrar_->withdraw(config_.pool_id, problem)) {
    n::info(n::actor::pool_manager, n::action::pool_register)
        .target(registrar_->where())
        .human("Told {} that pool {} is leaving", registrar_->where(), config_.pool_id)
        .emit();
  }
}

}  // namespace llorch::pool
