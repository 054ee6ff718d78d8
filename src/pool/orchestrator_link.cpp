#include "pool/orchestrator_link.hpp"

#include <fmt/format.h>

#include "narration/narrate.hpp"
#include "net/http_client.hpp"

namespace llorch::pool {

namespace n = llorch::narration;

OrchestratorLink::OrchestratorLink(OrchestratorLinkConfig config,
                                   std::function<nlohmann::ordered_json()> workers)
    : config_(std::move(config)), workers_(std::move(workers)) {
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

bool OrchestratorLink::send(const std::string& method, const std::string& path,
                            const std::string& body, unsigned& status, std::string& problem) {
  try {
    net::ClientRequest request{
        .method = method, .url = config_.orchestrator_url + path, .body = body};
    if (!config_.token.empty())
      request.headers.emplace_back("Authorization", "Bearer " + config_.token);
    request.timeout = std::chrono::milliseconds(3000);
    const auto response = net::http_call(request);
    status = response.status;
    if (status >= 200 && status < 300) return true;
    problem = fmt::format("HTTP {} {}", status, response.body.substr(0, 200));
  } catch (const std::exception& e) {
    status = 0;
    problem = e.what();
  }
  return false;
}

void OrchestratorLink::run() {
  bool registered = false;
  bool failing = false;
  for (;;) {
    nlohmann::ordered_json body{
        {"pool_id", config_.pool_id}, {"url", config_.pool_url}, {"workers", workers_()}};
    unsigned status = 0;
    std::string problem;
    bool ok;
    if (!registered) {
      ok = send("POST", "/v1/pools", body.dump(), status, problem);
      if (ok) {
        registered = true;
        n::info(n::actor::pool_manager, n::action::pool_register)
            .target(config_.orchestrator_url)
            .human("Registered pool {} with the orchestrator at {} ({} worker(s))", config_.pool_id,
                   config_.orchestrator_url, body["workers"].size())
            .emit();
      }
    } else {
      body.erase("url");
      ok =
          send("POST", "/v1/pools/" + config_.pool_id + "/heartbeat", body.dump(), status, problem);
      if (!ok && status == 404) {
        registered = false;  // the orchestrator restarted and forgot us: register again at once
        n::warn(n::actor::pool_manager, n::action::pool_heartbeat)
            .target(config_.orchestrator_url)
            .human("The orchestrator at {} no longer knows pool {}; registering again",
                   config_.orchestrator_url, config_.pool_id)
            .emit();
        continue;
      }
      if (ok) {
        n::debug(n::actor::pool_manager, n::action::pool_heartbeat)
            .target(config_.orchestrator_url)
            .human("Heartbeat to the orchestrator ({} worker(s))", body["workers"].size())
            .emit();
      }
    }
    if (!ok && !failing) {
      n::warn(n::actor::pool_manager,
              registered ? n::action::pool_heartbeat : n::action::pool_register)
          .target(config_.orchestrator_url)
          .human("Cannot reach the orchestrator at {}: {}; retrying every {} ms",
                 config_.orchestrator_url, problem, config_.interval.count())
          .error_kind("ORCHESTRATOR_UNREACHABLE")
          .emit();
    } else if (ok && failing) {
      n::info(n::actor::pool_manager, n::action::pool_heartbeat)
          .target(config_.orchestrator_url)
          .human("The orchestrator at {} answers again", config_.orchestrator_url)
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
  unsigned status = 0;
  std::string problem;
  if (send("DELETE", "/v1/pools/" + config_.pool_id, "", status, problem)) {
    n::info(n::actor::pool_manager, n::action::pool_register)
        .target(config_.orchestrator_url)
        .human("Told the orchestrator at {} that pool {} is leaving", config_.orchestrator_url,
               config_.pool_id)
        .emit();
  }
}

}  // namespace llorch::pool
