// The pool registry on the shared NATS substrate, read into the scheduler whenever an entry is
// written or deleted (a watcher) and at least every second (expiries send nothing): the bucket's
// entries (one per pool manager, rewritten at each of its heartbeats) become pool updates, and a
// pool whose entry is gone — it said goodbye, or its heartbeats stopped and the entry expired —
// is forgotten at once. Any number of orchestrators can read the same registry.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "orchestrator/scheduler.hpp"
#include "state/nats_bucket.hpp"
#include "state/state_url.hpp"

namespace llorch::orchestrator {

class RegistryWatch {
 public:
  // Over `link` (the shared tasks' connection) when given, else over a connection of its own.
  RegistryWatch(state::StateConfig config, Scheduler& scheduler,
                std::shared_ptr<state::NatsLink> link = nullptr);
  ~RegistryWatch();  // stop()
  RegistryWatch(const RegistryWatch&) = delete;
  RegistryWatch& operator=(const RegistryWatch&) = delete;
  void stop();

 private:
  void run();
  // Applies the bucket's changes as they come for about a second; true when stopping.
  bool follow_changes(state::NatsBucket* bucket);
  // One pool's entry: registered or refreshed (false: not a pool's entry) …
  bool apply(const std::string& key, const std::string& value);
  // … or gone.
  void drop(const std::string& key);
  bool stopping();

  state::StateConfig config_;
  Scheduler& scheduler_;
  std::shared_ptr<state::NatsLink> link_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, std::string> known_;  // pool id → its url (the run thread's)
  std::thread thread_;
};

}  // namespace llorch::orchestrator
