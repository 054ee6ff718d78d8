// The pool manager's HTTP API: /v1/workers (list, spawn, inspect, stop), the workers' ready
// callback, /v1/narration (SSE feed for operators), /health and /metrics. Runs on the io thread
// that runs the Supervisor.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/narration_feed.hpp"
#include "net/http_types.hpp"
#include "pool/pool_config.hpp"
#include "pool/pool_metrics.hpp"
#include "pool/supervisor.hpp"

namespace llorch::pool {

// The JSON of one worker, as GET /v1/workers lists it.
// A worker as the API lists it; `with_secret` adds the token callers of its /execute need (for
// the orchestrator, which has the pool's token).
nlohmann::ordered_json worker_json(const WorkerView& worker, bool with_secret);

class PoolService {
 public:
  PoolService(const PoolConfig& config, Supervisor& supervisor, api::NarrationFeed& feed,
              PoolMetrics& metrics);

  void handle(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange);
  void set_draining() noexcept { draining_ = true; }

 private:
  net::HttpResponse spawn(const net::HttpRequest& request, const std::string& correlation_id);
  // What of `spec` exceeds config.spawn_limits (slots, ctx, threads, workers, memory).
  std::vector<api::FieldError> beyond_limits(const WorkerSpec& spec) const;
  net::HttpResponse stop(const std::string& id, const std::string& correlation_id);
  net::HttpResponse health() const;

  const PoolConfig& config_;
  Supervisor& supervisor_;
  api::NarrationFeed& feed_;
  PoolMetrics& metrics_;
  std::filesystem::path base_;  // relative model paths in requests are taken from here
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool draining_ = false;
};

}  // namespace llorch::pool
