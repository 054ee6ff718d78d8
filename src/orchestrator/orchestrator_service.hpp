// The orchestrator's HTTP API: tasks (/v2/tasks), the OpenAI-compatible endpoints, the pool
// registry that pool managers talk to, /health and /metrics.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "net/http_types.hpp"
#include "orchestrator/orchestrator_metrics.hpp"
#include "orchestrator/scheduler.hpp"

namespace llorch::orchestrator {

struct ServiceConfig {
  std::string api_token;   // required as a bearer token on the user's API when not empty
  std::string pool_token;  // required from pool managers when not empty
};

class OrchestratorService {
 public:
  OrchestratorService(ServiceConfig config, Scheduler& scheduler, OrchestratorMetrics& metrics);

  void handle(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange);
  void set_draining() noexcept { draining_ = true; }

 private:
  struct Call;
  void create_task(Call& call);
  void task_route(Call& call, const std::string& rest);
  void openai(Call& call, bool chat);
  void models(Call& call);
  void pools(Call& call, const std::string& rest);
  void health(Call& call);
  // Admits the task or answers 429/503 (narrated); false when it was refused.
  bool admit(Call& call, const std::shared_ptr<Task>& task, bool openai_errors);

  ServiceConfig config_;
  Scheduler& scheduler_;
  OrchestratorMetrics& metrics_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool draining_ = false;
};

}  // namespace llorch::orchestrator
