// Registration and heartbeat: the pool's report ({pool_id, url, workers}) announced through a
// Registrar — the orchestrator's HTTP API (--orchestrator URL) or the shared registry on NATS
// (--state nats://…) — once, then every interval with the workers as they are (and at once
// when nudged); on shutdown the pool withdraws.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "pool/registrar.hpp"

namespace llorch::pool {

struct OrchestratorLinkConfig {
  std::string pool_id;
  std::string pool_url;  // where the orchestrator reaches this pool manager
  std::chrono::milliseconds interval{5000};
};

class OrchestratorLink {
 public:
  // `workers` is called on the link's thread; it must be thread-safe.
  OrchestratorLink(OrchestratorLinkConfig config, std::unique_ptr<Registrar> registrar,
                   std::function<nlohmann::ordered_json()> workers);
  ~OrchestratorLink();  // stops the thread; call goodbye() first to deregister
  OrchestratorLink(const OrchestratorLink&) = delete;
  OrchestratorLink& operator=(const OrchestratorLink&) = delete;

  // Sends the next heartbeat now (a worker changed state) instead of at the interval.
  void nudge();

  // Stops heartbeats and withdraws the pool (one attempt, short timeout).
  void goodbye();

 private:
  void run();

  OrchestratorLinkConfig config_;
  std::unique_ptr<Registrar> registrar_;
  std::function<nlohmann::ordered_json()> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool nudged_ = false;
  std::thread thread_;
};

}  // namespace llorch::pool
