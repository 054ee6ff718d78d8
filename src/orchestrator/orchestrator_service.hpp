// The orchestrator's HTTP API: tasks (/v2/tasks), the OpenAI-compatible endpoints, the pool
// registry that pool managers talk to, /health and /metrics.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "api/narration_feed.hpp"
#include "net/http_types.hpp"
#include "orchestrator/api_keys.hpp"
#include "orchestrator/orchestrator_metrics.hpp"
#include "orchestrator/scheduler.hpp"

namespace llorch::orchestrator {

class SharedTasks;

struct ServiceConfig {
  // The user's API keys. When any is set, every endpoint but /health and the two pages needs a
  // bearer token: an API key (tasks, OpenAI endpoints, models, /metrics, GET /v1/pools), the pool
  // token (pool registration, heartbeats, GET /v1/pools) or the metrics token, the operator's
  // read-only token (/metrics, /v1/narration, every client's tasks in GET /v2/tasks).
  std::shared_ptr<ApiKeys> keys = std::make_shared<ApiKeys>();
  std::string pool_token;     // LLORCH_ORCHESTRATOR_TOKEN: what pool managers show
  std::string metrics_token;  // --metrics-token-env: the operator's read-only token
};

class OrchestratorService {
 public:
  OrchestratorService(ServiceConfig config, Scheduler& scheduler, OrchestratorMetrics& metrics);

  void handle(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange);
  void set_draining() noexcept { draining_ = true; }
  // With --state: tasks are admitted into, found in and cancelled through the shared state.
  void set_shared(SharedTasks* shared) noexcept { shared_ = shared; }
  // The narration sink behind GET /v1/narration (the orchestrator installs it in the process's
  // narrator and closes it at shutdown).
  const std::shared_ptr<api::NarrationFeed>& feed() const noexcept { return feed_; }

 private:
  struct Call;
  // Who the caller is (nullopt: refused, already answered).
  std::optional<std::string> authenticate(Call& call, const std::string& path);
  void create_task(Call& call);
  void list_tasks(Call& call);
  void page(Call& call, std::string_view html);
  void task_route(Call& call, const std::string& rest);
  void openai(Call& call, bool chat);
  void models(Call& call);
  void model(Call& call, const std::string& id);
  void pools(Call& call, const std::string& rest);
  void health(Call& call);
  void route(Call& call, const std::string& path);
  // Admits the task or answers 429/503 (narrated); nullopt when it was refused.
  std::optional<Scheduler::Admission> admit(Call& call, const std::shared_ptr<Task>& task,
                                            bool openai_errors);
  // The task's stream for a reader: the task itself, or with shared state its mirror.
  std::shared_ptr<Task> readable(const std::shared_ptr<Task>& task);

  ServiceConfig config_;
  Scheduler& scheduler_;
  OrchestratorMetrics& metrics_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::shared_ptr<api::NarrationFeed> feed_ = std::make_shared<api::NarrationFeed>();
  bool draining_ = false;
  SharedTasks* shared_ = nullptr;
};

}  // namespace llorch::orchestrator
