// The worker's HTTP endpoints: POST /execute (SSE), POST /cancel, GET /health, GET /metrics,
// POST /shutdown. Called on network threads; never blocks them on generation.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "engine/model.hpp"
#include "net/http_types.hpp"
#include "worker/engine_loop.hpp"
#include "worker/worker_config.hpp"
#include "worker/worker_metrics.hpp"

namespace llorch::worker {

class WorkerService {
 public:
  WorkerService(const WorkerConfig& config, std::shared_ptr<const engine::Model> model,
                EngineLoop& slots, WorkerMetrics& metrics,
                std::function<void(std::string reason)> request_shutdown);

  void handle(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange);
  void set_draining() noexcept { draining_ = true; }
  const std::shared_ptr<std::atomic<int>>& live_streams() const noexcept { return live_streams_; }

 private:
  // Answers an error, or hands the exchange a stream that the job feeds.
  void execute(const net::HttpRequest& request, const std::string& correlation_id,
               const std::shared_ptr<net::Exchange>& exchange);
  net::HttpResponse cancel(const net::HttpRequest& request, const std::string& correlation_id);
  net::HttpResponse health() const;
  // Renders `messages` into `prompt` with the model's chat template, and narrates which one.
  void apply_chat_template(api::ExecuteRequest& request) const;

  const WorkerConfig& config_;
  std::shared_ptr<const engine::Model> model_;
  EngineLoop& slots_;
  WorkerMetrics& metrics_;
  std::function<void(std::string)> request_shutdown_;
  std::atomic<bool> draining_{false};
  std::shared_ptr<std::atomic<int>> live_streams_ = std::make_shared<std::atomic<int>>(0);
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace llorch::worker
