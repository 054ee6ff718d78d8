#include "pool/pool_service.hpp"

#include <fmt/format.h>

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

nlohmann::ordered_json worker_json(const WorkerView& w) {
  return {{"id", w.id},
          {"state", to_string(w.state)},
          {"url", w.url.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(w.url)},
          {"model", w.spec.model},
          {"device", w.spec.device},
          {"slots", w.spec.slots},
          {"slots_busy", w.slots_busy},
          {"threads", w.spec.threads},
          {"pid", w.pid == 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(w.pid)},
          {"restarts", w.restarts},
          {"last_error", w.last_error.empty() ? nlohmann::ordered_json(nullptr)
                                              : nlohmann::ordered_json(w.last_error)}};
}

PoolService::PoolService(const PoolConfig& config, Supervisor& supervisor, NarrationFeed& feed,
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
      for (const auto& w : supervisor_.workers()) list.push_back(worker_json(w));
      reply(json_response(200, {{"pool_id", config_.pool_id}, {"workers", list}}));
    } else if (allow("POST")) {
      reply(spawn(request, correlation_id));
    }
  } else if (path.rfind(kWorkersPrefix, 0) == 0 && path.size() > kWorkersPrefix.size()) {
    const std::string id = path.substr(kWorkersPrefix.size());
    if (request.method == "GET") {
      if (const auto w = supervisor_.worker(id)) return reply(json_response(200, worker_json(*w)));
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
  const WorkerView w = supervisor_.spawn(spec);
  HttpResponse r = json_response(201, worker_json(w));
  r.headers.emplace_back("Location", std::string(kWorkersPrefix) + w.id);
  return r;
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
  std::size_t ready = 0;
  const auto workers = supervisor_.workers();
  for (const auto& w : workers)
    ready += w.state == WorkerState::ready || w.state == WorkerState::busy ? 1 : 0;
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  nlohmann::ordered_json body{{"status", draining_ ? "draining" : "ready"},
                              {"pool_id", config_.pool_id},
                              {"workers_total", workers.size()},
                              {"workers_ready", ready},
                              {"uptime_s", uptime}};
  return json_response(draining_ ? 503 : 200, body);
}

}  // namespace llorch::pool
