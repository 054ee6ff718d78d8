#include "worker/worker_service.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/execute_request.hpp"
#include "api/http_common.hpp"
#include "api/json_input.hpp"
#include "api/stream_events.hpp"
#include "engine/chat_template.hpp"
#include "narration/correlation.hpp"
#include "narration/narrate.hpp"
#include "worker/job_stream.hpp"

namespace llorch::worker {

namespace n = llorch::narration;
using net::HttpResponse;

using api::correlation_of;
using api::error_response;
using api::unless_json;

WorkerService::WorkerService(const WorkerConfig& config, std::shared_ptr<const engine::Model> model,
                             EngineLoop& slots, WorkerMetrics& metrics,
                             std::function<void(std::string)> request_shutdown)
    : config_(config),
      model_(std::move(model)),
      slots_(slots),
      metrics_(metrics),
      request_shutdown_(std::move(request_shutdown)) {}

void WorkerService::handle(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange) {
  const std::string correlation_id = correlation_of(request);
  const auto reply = [&](HttpResponse response) {
    response.headers.emplace_back("X-Correlation-Id", correlation_id);
    if (const auto trace = n::parse_traceparent(request.header("traceparent"))) {
      response.headers.emplace_back("traceparent", trace->to_string());
    }
    exchange->respond(std::move(response));
  };
  const std::string path = request.path();
  const auto allow = [&](const char* method) {
    auto refusal = api::unless_method(request, method, correlation_id);
    if (refusal) reply(std::move(*refusal));
    return !refusal;
  };

  // Whoever can reach the port must not run, cancel or stop jobs: the pool manager gave this
  // worker a secret, and only the orchestrator it told holds it.
  const bool guarded = path == "/execute" || path == "/cancel" || path == "/shutdown";
  if (guarded && !api::bearer_matches(request, config_.secret)) {
    metrics_.count_request("unauthorized");
    return reply(api::unauthorized(request, "wrong or missing worker token (LLORCH_WORKER_TOKEN)",
                                   correlation_id));
  }
  if (path == "/execute") {
    if (allow("POST")) execute(request, correlation_id, exchange);
  } else if (path == "/cancel") {
    if (allow("POST")) reply(cancel(request, correlation_id));
  } else if (path == "/health") {
    if (allow("GET")) reply(health());
  } else if (path == "/metrics") {
    if (allow("GET")) {
      metrics_.set_slots_busy(slots_.busy());
      reply({200, "text/plain; version=0.0.4", metrics_.text(), {}});
    }
  } else if (path == "/shutdown") {
    if (allow("POST")) {
      reply({202, "application/json", R"({"status":"draining"})", {}});
      request_shutdown_("POST /shutdown");
    }
  } else {
    reply(error_response(
        404, "NOT_FOUND",
        fmt::format(
            "no endpoint {}; the worker serves /execute, /cancel, /health, /metrics, /shutdown",
            path),
        correlation_id));
  }
}

void WorkerService::execute(const net::HttpRequest& request, const std::string& correlation_id,
                            const std::shared_ptr<net::Exchange>& exchange) {
  const auto fail = [&](HttpResponse response, const std::string& outcome) {
    metrics_.count_request(outcome);
    response.headers.emplace_back("X-Correlation-Id", correlation_id);
    exchange->respond(std::move(response));
  };
  const auto narrate_invalid = [&](const std::string& why) {
    n::RequestScope scope({correlation_id, "", nullptr});
    n::warn(n::actor::http_server, n::action::validation_failed)
        .target("/execute")
        .human("Validation failed: {}", why)
        .cute("Hmm, this request doesn't look right: {} 🤔", why)
        .error_kind("INVALID_REQUEST")
        .emit();
  };
  if (auto unsupported = unless_json(request, correlation_id)) {
    narrate_invalid("Content-Type is not application/json");
    return fail(std::move(*unsupported), "invalid");
  }
  const api::ExecuteLimits limits{model_->config.context_length, model_->config.vocab_size};
  auto parsed = api::parse_execute_request(request.body, limits);
  if (auto* errors = std::get_if<std::vector<api::FieldError>>(&parsed)) {
    const bool malformed = errors->size() == 1 && (*errors)[0].constraint == "json";
    narrate_invalid(fmt::format("{} ({})",
                                malformed ? "the body is not valid JSON" : "invalid fields",
                                api::field_list(*errors)));
    return fail(api::invalid_fields(*errors, correlation_id), "invalid");
  }
  if (draining_) {
    HttpResponse r = error_response(
        503, "DRAINING", "the worker is shutting down; send the request elsewhere", correlation_id);
    return fail(std::move(r), "draining");
  }

  auto job = std::make_shared<Job>();
  job->request = std::move(std::get<api::ExecuteRequest>(parsed));
  if (job->request.job_id.empty()) job->request.job_id = "job-" + n::generate_uuid_v4();
  job->context = {correlation_id, job->request.job_id, std::make_shared<n::EventChannel>()};
  job->context.channel->push(
      {"started", api::started_event(job->request.job_id, correlation_id, config_.model_path,
                                     job->request.max_tokens)});
  {
    // Narrated before the slot is taken, so that it is in the stream ahead of the engine's events.
    n::RequestScope scope(job->context);
    n::info(n::actor::http_server, n::action::request_validated)
        .target(job->request.job_id)
        .human("Request validated for job {}", job->request.job_id)
        .cute("All checks passed! ✅")
        .emit();
    if (!job->request.messages.empty()) apply_chat_template(job->request);
  }
  if (!slots_.try_start(job)) {
    HttpResponse r = error_response(
        503, "SLOTS_BUSY",
        fmt::format("all {} slots are busy; retry shortly or use another worker", slots_.total()),
        correlation_id);
    r.headers.emplace_back("Retry-After", "1");
    return fail(std::move(r), "busy");
  }
  exchange->stream({{"X-Correlation-Id", correlation_id}, {"X-Job-Id", job->request.job_id}},
                   std::make_shared<JobStream>(job, live_streams_));
}

void WorkerService::apply_chat_template(api::ExecuteRequest& request) const {
  const engine::ChatFormat format = engine::detect_chat_format(model_->chat_template);
  std::vector<engine::ChatMessage> messages;
  for (const auto& m : request.messages) messages.push_back({m.role, m.content});
  request.prompt = engine::render_chat(format, messages);
  // Say where the format came from, so that a surprising prompt can be explained.
  const char* source = format != engine::ChatFormat::plain ? "the model file's template"
                       : model_->chat_template.empty()
                           ? "llorch's default: the model has no template"
                           : "llorch's default: the model's template is not one llorch knows";
  n::info(n::actor::worker, n::action::chat_template)
      .target(request.job_id)
      .human("Formatted {} message(s) as a {} prompt ({})", messages.size(),
             engine::to_string(format), source)
      .cute("Turned the conversation into a {} prompt 💬", engine::to_string(format))
      .emit();
}

HttpResponse WorkerService::cancel(const net::HttpRequest& request,
                                   const std::string& correlation_id) {
  if (auto unsupported = unless_json(request, correlation_id)) return std::move(*unsupported);
  const auto body = api::parse_untrusted(request.body);
  if (!body.is_object() || !body.contains("job_id") || !body["job_id"].is_string()) {
    return error_response(400, "INVALID_REQUEST", "1 invalid field: job_id", correlation_id,
                          {{"job_id", "required", "job_id is required (the id of a running job)"}});
  }
  const std::string job_id = body["job_id"];
  n::RequestScope scope({correlation_id, job_id, nullptr});
  if (!slots_.cancel(job_id)) {
    return error_response(404, "JOB_NOT_FOUND", fmt::format("no running job {}", job_id),
                          correlation_id);
  }
  n::info(n::actor::http_server, n::action::cancel_request)
      .target(job_id)
      .human("Cancelling job {} on request", job_id)
      .cute("Okay, stopping job {} 🛑", job_id)
      .emit();
  return {
      200, "application/json", nlohmann::json{{"job_id", job_id}, {"cancelled", true}}.dump(), {}};
}

HttpResponse WorkerService::health() const {
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  nlohmann::ordered_json body{{"status", draining_ ? "draining" : "ready"},
                              {"worker_id", config_.worker_id},
                              {"model", config_.model_path},
                              {"device", config_.device},
                              {"slots_total", slots_.total()},
                              {"slots_busy", slots_.busy()},
                              {"uptime_s", uptime}};
  return {draining_ ? 503u : 200u, "application/json", body.dump(), {}};
}

}  // namespace llorch::worker
