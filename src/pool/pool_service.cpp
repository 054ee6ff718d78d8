#include "pool/pool_service.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "api/http_common.hpp"
#include "narration/context.hpp"
#include "narration/correlation.hpp"
#include "narration/narrate.hpp"

namespace llorch::pool {

namespace n = llorch::narration;
using api::error_response;
using net::HttpResponse;

namespace {

constexpr std::string_view kWorkersPrefix = "/v1/workers/";

HttpResponse json_response(unsigned status, const nlohmann::ordered_json& body) {
  return {status, "application/json", body.dump(), {}};
}

}  // namespace

nlohmann::ordered_json worker_json(const WorkerView& w, bool with_secret) {
  nlohmann::ordered_json j{
      {"id", w.id},
      {"state", to_string(w.state)},
      {"url", w.url.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(w.url)},
      {"model", w.spec.model},
      {"device", w.spec.device},
      {"slots", w.spec.slots},
      {"slots_busy", w.slots_busy},
      {"threads", w.spec.threads},
      {"kv_size", w.spec.kv_size},
      {"kv_type", w.spec.kv_type},
      {"pid", w.pid == 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(w.pid)},
      {"restarts", w.restarts},
      {"last_error", w.last_error.empty() ? nlohmann::ordered_json(nullptr)
                                          : nlohmann::ordered_json(w.last_error)}};
  if (with_secret && !w.secret.empty()) j["secret"] = w.secret;
  return j;
}

PoolService::PoolService(const PoolConfig& config, Supervisor& supervisor, api::NarrationFeed& feed,
                         PoolMetrics& metrics)
    : config_(config),
      supervisor_(supervisor),
      feed_(feed),
      metrics_(metrics),
      base_(std::filesystem::current_path()) {}

void PoolService::handle(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange) {
  const std::string correlation_id = api::correlation_of(request);
  n::RequestScope scope({correlation_id, "", nullptr});
  const auto reply = [&](HttpResponse response) {
    response.headers.emplace_back("X-Correlation-Id", correlation_id);
    exchange->respond(std::move(response));
  };
  const auto allow = [&](const char* method) {
    auto refusal = api::unless_method(request, method, correlation_id);
    if (refusal) reply(std::move(*refusal));
    return !refusal;
  };
  const std::string path = request.path();
  // /health is open (load balancers, the orchestrator); the ready callback has each worker's own
  // token; everything else asks for the pool's.
  if (path != "/health" && path != "/v1/workers/ready" &&
      !api::bearer_matches(request, config_.api_token)) {
    return reply(api::unauthorized(request, "wrong or missing pool token (LLORCH_POOL_TOKEN)",
                                   correlation_id));
  }

  if (path == "/health") {
    if (allow("GET")) reply(health());
  } else if (path == "/metrics") {
    if (allow("GET")) reply({200, "text/plain; version=0.0.4", metrics_.text(), {}});
  } else if (path == "/v1/narration") {
    if (allow("GET")) {
      exchange->stream({{"X-Correlation-Id", correlation_id}}, feed_.subscribe());
    }
  } else if (path == "/v1/workers/ready") {
    if (!allow("POST")) return;
    if (auto unsupported = api::unless_json(request, correlation_id)) {
      return reply(std::move(*unsupported));
    }
    const ReadyAnswer answer = supervisor_.ready(request.header("authorization"), request.body);
    if (answer.status != 200) {
      HttpResponse r = error_response(answer.status, answer.code, answer.message, correlation_id,
                                      answer.details);
      if (answer.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return reply(std::move(r));
    }
    reply(json_response(200, {{"status", "accepted"}}));
  } else if (path == "/v1/workers") {
    if (request.method == "GET") {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& w : supervisor_.workers()) list.push_back(worker_json(w, true));
      reply(json_response(200, {{"pool_id", config_.pool_id}, {"workers", list}}));
    } else if (allow("POST")) {
      reply(spawn(request, correlation_id));
    }
  } else if (path.rfind(kWorkersPrefix, 0) == 0 && path.size() > kWorkersPrefix.size()) {
    const std::string id = path.substr(kWorkersPrefix.size());
    if (request.method == "GET") {
      if (const auto w = supervisor_.worker(id))
        return reply(json_response(200, worker_json(*w, true)));
      reply(error_response(404, "WORKER_NOT_FOUND", fmt::format("no worker {} in this pool", id),
                           correlation_id));
    } else if (allow("DELETE")) {
      reply(stop(id, correlation_id));
    }
  } else {
    reply(error_response(404, "NOT_FOUND",
                         fmt::format("no endpoint {}; the pool manager serves /v1/workers, "
                                     "/v1/workers/{{id}}, /v1/workers/ready, /v1/narration, "
                                     "/health, /metrics",
                                     path),
                         correlation_id));
  }
}

HttpResponse PoolService::spawn(const net::HttpRequest& request,
                                const std::string& correlation_id) {
  if (auto unsupported = api::unless_json(request, correlation_id)) return std::move(*unsupported);
  if (draining_) {
    return error_response(503, "DRAINING", "the pool manager is shutting down", correlation_id);
  }
  WorkerSpec spec;
  const auto errors = parse_worker_request(request.body, base_, spec);
  if (!errors.empty()) {
    n::warn(n::actor::pool_manager, n::action::validation_failed)
        .target("/v1/workers")
        .human("Refused to spawn a worker: {}", api::field_list(errors))
        .error_kind("INVALID_REQUEST")
        .emit();
    return api::invalid_fields(errors, correlation_id);
  }
  if (const auto too_much = beyond_limits(spec); !too_much.empty()) {
    n::warn(n::actor::pool_manager, n::action::validation_failed)
        .target("/v1/workers")
        .human("Refused to spawn a worker: {}", api::field_list(too_much))
        .error_kind("LIMIT_EXCEEDED")
        .emit();
    return error_response(400, "LIMIT_EXCEEDED",
                          fmt::format("the request asks for more than this pool allows: {}",
                                      api::field_list(too_much)),
                          correlation_id, too_much);
  }
  const WorkerView w = supervisor_.spawn(spec);
  HttpResponse r = json_response(201, worker_json(w, true));
  r.headers.emplace_back("Location", std::string(kWorkersPrefix) + w.id);
  return r;
}

std::vector<api::FieldError> PoolService::beyond_limits(const WorkerSpec& spec) const {
  const SpawnLimits& l = config_.spawn_limits;
  std::vector<api::FieldError> errors;
  const auto over = [&](const char* field, std::uint64_t value, std::uint64_t max,
                        const char* what) {
    if (value > max)
      errors.push_back(
          {field, fmt::format("max:{}", max),
           fmt::format("{} asks for {} {}; this pool allows at most {}", field, value, what, max)});
  };
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  over("slots", spec.slots, l.slots, "slots");
  over("ctx", spec.context_length, l.context, "positions");
  over("kv_size", spec.kv_size, l.kv_size, "KV cache positions");
  over("threads", spec.threads, l.threads == 0 ? cores : l.threads, "threads per worker");
  const auto workers = supervisor_.workers();
  if (workers.size() + 1 > l.workers)
    errors.push_back(
        {"", fmt::format("maxWorkers:{}", l.workers),
         fmt::format("the pool has {} workers; it allows at most {}", workers.size(), l.workers)});
  // Memory: the model files of every worker, this one included (weights are read in whole).
  std::error_code ec;
  std::uint64_t bytes = std::filesystem::file_size(spec.model, ec);
  for (const auto& w : workers) bytes += std::filesystem::file_size(w.spec.model, ec);
  std::uint64_t budget = l.model_bytes;
  if (budget == 0) {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    budget = pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * page / 4 * 3 : 0;
  }
  if (budget > 0 && bytes > budget)
    errors.push_back({"model", fmt::format("maxModelBytes:{}", budget),
                      fmt::format("the pool's workers would hold {} MB of model files; this pool "
                                  "allows {} MB",
                                  bytes >> 20, budget >> 20)});
  return errors;
}

HttpResponse PoolService::stop(const std::string& id, const std::string& correlation_id) {
  switch (supervisor_.remove(id)) {
    case Supervisor::RemoveResult::not_found:
      return error_response(404, "WORKER_NOT_FOUND", fmt::format("no worker {} in this pool", id),
                            correlation_id);
    case Supervisor::RemoveResult::removed:
      return json_response(200, {{"id", id}, {"state", "stopped"}});
    case Supervisor::RemoveResult::draining:
      break;
  }
  return json_response(202, {{"id", id}, {"state", "draining"}});
}

HttpResponse PoolService::health() const {
  std::size_t ready = 0, failed = 0;
  nlohmann::ordered_json problems = nlohmann::ordered_json::array();
  const auto workers = supervisor_.workers();
  for (const auto& w : workers) {
    ready += w.state == WorkerState::ready || w.state == WorkerState::busy ? 1 : 0;
    failed += w.state == WorkerState::failed ? 1 : 0;
    if (w.state == WorkerState::failed || w.state == WorkerState::crashed)
      problems.push_back(
          {{"worker_id", w.id}, {"state", to_string(w.state)}, {"reason", w.last_error}});
  }
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  // failed: no worker can ever serve (every one failed); degraded: some worker is not serving
  // for a reason a restart may not mend.
  const std::string status = draining_                                      ? "draining"
                             : !workers.empty() && failed == workers.size() ? "failed"
                             : !problems.empty()                            ? "degraded"
                                                                            : "ready";
  nlohmann::ordered_json body{
      {"status", status},       {"pool_id", config_.pool_id}, {"workers_total", workers.size()},
      {"workers_ready", ready}, {"problems", problems},       {"uptime_s", uptime}};
  return json_response(status == "draining" || status == "failed" ? 503 : 200, body);
}

}  // namespace llorch::pool
