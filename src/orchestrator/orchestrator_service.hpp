// The orchestrator's HTTP API: tasks (/v2/tasks), the OpenAI-compatible endpoints, the pool
// registry that pool managers talk to, /health and /metrics.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <mutex>
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

  // Called on the server's io thread. With shared state, a request that calls NATS (tasks, the
  // OpenAI endpoints) is served on a thread of the service's own: a slow or unreachable NATS
  // (a cluster electing a leader takes seconds) never holds up the io thread, and with it every
  // stream being written, /health and /metrics.
  void handle(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange);
  void set_draining() noexcept { draining_ = true; }
  // With --state: tasks are admitted into, found in and cancelled through the shared state.
  void set_shared(SharedTasks* shared);
  // Waits for the requests on the service's threads; later ones are served on the io thread.
  // Before the shared state goes.
  void finish_state_calls();
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
  void serve(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange);
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
  std::atomic<bool> draining_{false};
  SharedTasks* shared_ = nullptr;
  std::mutex offload_mutex_;
  bool offloading_ = false;                                // guarded by offload_mutex_
  std::unique_ptr<boost::asio::thread_pool> state_calls_;  // with --state
  std::once_flag state_calls_joined_;
};

}  // namespace llorch::orchestrator
