// The pools the orchestrator knows and their workers, as their last registration, heartbeat or
// poll described them, plus the slots this orchestrator has taken on each worker. Not
// thread-safe: the scheduler guards it.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/errors.hpp"

namespace llorch::orchestrator {

struct WorkerEntry {
  std::string id;
  std::string state;  // the pool's word: starting, loading, ready, busy, draining, stopped,
                      // crashed, failed
  std::string url;    // "" until it is ready
  std::string model;  // the model file as the pool names it
  std::string last_error;
  std::string secret;  // the worker's token, shown as a bearer on /execute and /cancel
  int slots = 1;
  int restarts = 0;                                       // how often its pool restarted it
  int in_use = 0;                                         // slots this orchestrator holds on it
  std::chrono::steady_clock::time_point shunned_until{};  // refused or unreachable: skip until
};

struct PoolEntry {
  std::string id;
  std::string url;
  bool registered = false;  // registered itself (heartbeats) rather than named with --pool
  std::chrono::steady_clock::time_point last_seen{};
  std::vector<WorkerEntry> workers;
};

// A pool's description: {pool_id, url, workers: [Worker…]} (url optional for a heartbeat).
struct PoolReport {
  std::string pool_id;
  std::string url;
  std::vector<WorkerEntry> workers;
};

// Reads a registration (`need_url`) or heartbeat body; every problem is one FieldError.
std::optional<PoolReport> parse_pool_report(std::string_view body, bool need_url,
                                            std::vector<api::FieldError>& errors);

// "stories260K" for "/models/stories260K.gguf": the id clients use in `model`.
std::string model_id(const std::string& model_path);

class PoolRegistry {
 public:
  // Replaces the pool's workers with the report's, keeping the slots held on workers that are
  // still the same process (same id and url).
  void update(PoolReport report, bool registered);
  bool remove(const std::string& pool_id);
  bool contains(const std::string& pool_id) const { return pools_.contains(pool_id); }
  // Registered pools not heard from since `cutoff`; removed and returned.
  std::vector<std::string> expire(std::chrono::steady_clock::time_point cutoff);

  // The least loaded ready worker with a free slot serving `model` ("" any), or null.
  WorkerEntry* pick(const std::string& model, PoolEntry** pool);
  WorkerEntry* find(const std::string& pool_id, const std::string& worker_id);
  // Whether pick() would find a worker now.
  bool has_free_slot(const std::string& model) const;
  // Whether any worker (in any state but stopped) serves `model`.
  bool serves(const std::string& model) const;
  // When workers for `model` ("" any) exist and every one of them has failed (its pool will not
  // restart it): why, worker by worker. Empty otherwise (some worker is or may become ready).
  std::string why_unservable(const std::string& model) const;
  // Every worker that is crashed or failed, with its pool.
  std::vector<std::pair<std::string, WorkerEntry>> problems() const;
  bool has_workers() const;

  const std::map<std::string, PoolEntry>& pools() const { return pools_; }
  std::vector<std::string> models() const;
  // When this orchestrator first saw a worker for the model (Unix seconds): OpenAI's `created`.
  long created(const std::string& model_id) const;
  std::size_t ready_workers() const;

 private:
  std::map<std::string, PoolEntry> pools_;
  std::map<std::string, long> first_seen_;  // model id → Unix seconds
};

}  // namespace llorch::orchestrator
