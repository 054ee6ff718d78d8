// Registration and heartbeat to the orchestrator (--orchestrator URL): POST /v1/pools once, then
// POST /v1/pools/{pool_id}/heartbeat every interval with the workers as they are; re-registers
// when the orchestrator has forgotten the pool (404), and says goodbye (DELETE) on shutdown.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace llorch::pool {

struct OrchestratorLinkConfig {
  std::string orchestrator_url;  // http://host:port
  std::string pool_id;
  std::string pool_url;  // where the orchestrator reaches this pool manager
  std::string token;     // bearer token (LLORCH_ORCHESTRATOR_TOKEN); may be empty
  std::chrono::milliseconds interval{5000};
};

class OrchestratorLink {
 public:
  // `workers` is called on the link's thread; it must be thread-safe.
  OrchestratorLink(OrchestratorLinkConfig config, std::function<nlohmann::ordered_json()> workers);
  ~OrchestratorLink();  // stops the thread; call goodbye() first to deregister
  OrchestratorLink(const OrchestratorLink&) = delete;
  OrchestratorLink& operator=(const OrchestratorLink&) = delete;

  // Sends the next heartbeat now (a worker changed state) instead of at the interval.
  void nudge();

  // Stops heartbeats and sends DELETE /v1/pools/{pool_id} (one attempt, short timeout).
  void goodbye();

 private:
  void run();
  bool send(const std::string& method, const std::string& path, const std::string& body,
            unsigned& status, std::string& problem);

  OrchestratorLinkConfig config_;
  std::function<nlohmann::ordered_json()> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool nudged_ = false;
  std::thread thread_;
};

}  // namespace llorch::pool
