// `llorch orchestrator`: the user's API in front of any number of pool managers. The Orchestrator
// object runs on an io_context it is given, so that `llorch serve` can run a pool manager beside
// it in one process.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/orchestrator_service.hpp"
#include "orchestrator/scheduler.hpp"
#include "state/state_url.hpp"

namespace llorch::orchestrator {

struct OrchestratorConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::vector<std::string> pool_urls;  // pools polled (GET /v1/workers) instead of registering
  std::chrono::milliseconds poll_interval{1000};
  // Follow each pool manager's narration feed into this one's /v1/narration (off when the pool
  // manager runs in this process and its lines are in the feed already: `llorch serve`).
  bool relay_pool_narration = true;
  SchedulerConfig scheduler;
  ServiceConfig service;
  // --state nats://…: pools are read from the shared registry there (they register with
  // `llorch pool-manager --state`), besides any that register over HTTP or are named with --pool.
  std::optional<state::StateConfig> state;
  // With --state: also the tasks, shared with the other replicas (shared_tasks.hpp).
  std::string replica_id;  // "" → HOSTNAME-PID
  std::chrono::seconds retention{3600};
};

class Orchestrator {
 public:
  Orchestrator(boost::asio::io_context& io, OrchestratorConfig config);
  ~Orchestrator();
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  // Binds (narrated) and starts polling the named pools; false when the port cannot be bound.
  bool start();
  std::string url() const;
  bool state_failed() const;  // start() failed opening the shared state, not binding
  // Refuses new requests, ends every task (queued ones fail, running ones are cancelled on their
  // workers), lets the streams deliver their last events, then calls `done` on the io thread.
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

inline constexpr int kExitStateUnavailable = 7;

// Runs until SIGTERM/SIGINT; returns 0, 4 when the port cannot be bound, or 7 when the shared
// state (--state) cannot be opened.
int run_orchestrator(OrchestratorConfig config);

}  // namespace llorch::orchestrator
