// The pool registry on the shared NATS substrate, read into the scheduler: every half second the
// bucket's entries (one per pool manager, rewritten at each of its heartbeats) become pool
// updates, and a pool whose entry is gone — it said goodbye, or its heartbeats stopped and the
// entry expired — is forgotten at once. Any number of orchestrators can read the same registry.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "orchestrator/scheduler.hpp"
#include "state/state_url.hpp"

namespace llorch::orchestrator {

class RegistryWatch {
 public:
  RegistryWatch(state::StateConfig config, Scheduler& scheduler);
  ~RegistryWatch();  // stop()
  RegistryWatch(const RegistryWatch&) = delete;
  RegistryWatch& operator=(const RegistryWatch&) = delete;
  void stop();

 private:
  void run();

  state::StateConfig config_;
  Scheduler& scheduler_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace llorch::orchestrator
