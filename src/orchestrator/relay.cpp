#include "orchestrator/relay.hpp"

#include <fmt/format.h>

#include <thread>

#include "api/json_input.hpp"
#include "api/stream_events.hpp"
#include "narration/correlation.hpp"
#include "net/http_client.hpp"
#include "orchestrator/worker_events.hpp"

namespace llorch::orchestrator {

namespace {

using Json = nlohmann::ordered_json;

// A worker says something at least every few seconds while a job runs (tokens, or prompt
// progress); silence this long means the stream is stuck.
constexpr std::chrono::seconds kReadTimeout{120};
// After a cancel request, how long the worker gets to end the stream itself before the relay
// hangs up (which cancels the job on the worker too).
constexpr std::chrono::milliseconds kCancelGrace{250};
// How much of a worker's error answer is read.
constexpr std::size_t kMaxErrorBody = 64 * 1024;

}  // namespace

std::string execute_body(const Task& task) {
  const api::ExecuteRequest& r = task.spec().request;
  Json body{{"job_id", task.id()}};
  if (r.messages.empty()) {
    body["prompt"] = r.prompt;
  } else {
    Json messages = Json::array();
    for (const auto& m : r.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    body["messages"] = std::move(messages);
  }
  body["max_tokens"] = r.max_tokens;
  body["temperature"] = r.temperature;
  body["top_p"] = r.top_p;
  body["top_k"] = r.top_k;
  body["min_p"] = r.min_p;
  body["repetition_penalty"] = r.repetition_penalty;
  if (r.seed) body["seed"] = *r.seed;
  if (!r.stop.empty()) body["stop"] = r.stop;
  body["narration_mode"] = narration::to_string(r.narration_mode);
  if (r.ignore_eos) body["ignore_eos"] = true;
  if (r.logprobs) body["logprobs"] = *r.logprobs;
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

RelayResult relay_to_worker(Task& task, const Placement& where) {
  net::ClientRequest request{
      .method = "POST", .url = where.worker_url + "/execute", .body = execute_body(task)};
  request.headers.emplace_back("X-Correlation-Id", task.correlation_id());
  if (!where.worker_secret.empty())
    request.headers.emplace_back("Authorization", "Bearer " + where.worker_secret);
  if (!task.traceparent().empty()) request.headers.emplace_back("traceparent", task.traceparent());
  request.timeout = kReadTimeout;
  request.abandon = &task.relay_abandoned();

  WorkerStreamReader reader(task);
  bool streaming = false;
  std::string error_body;
  std::optional<Clock::time_point> cancel_seen;
  try {
    net::http_call(request, [&](const net::ClientResponse& head, std::string_view chunk) {
      if (head.status != 200) {
        // Read while under the cap (stopping there), so the subtraction never wraps.
        error_body.append(chunk.substr(0, kMaxErrorBody - error_body.size()));
        return error_body.size() < kMaxErrorBody;
      }
      if (!streaming) task.accepted = true;
      streaming = true;
      if (!reader.feed(chunk)) return false;
      if (task.cancel_requested.load()) {
        if (!cancel_seen) cancel_seen = Clock::now();
        // The worker had its chance to end the stream with CANCELLED; hanging up cancels too.
        if (Clock::now() - *cancel_seen > kCancelGrace) return false;
      }
      return true;
    });
  } catch (const std::exception& e) {
    if (!streaming) return {RelayOutcome::unreachable, e.what()};
    if (!reader.terminal()) return {RelayOutcome::lost, e.what()};
  }
  if (!reader.broken().empty()) {
    // Hanging up (above) cancels the job on the worker; the user gets a terminal event.
    reader.end_broken(where.worker_id);
    return {RelayOutcome::rejected, reader.broken()};
  }
  const bool terminal = reader.terminal();
  if (terminal) return {RelayOutcome::finished, ""};
  if (!streaming) {
    // Not a stream: the worker answered with an error body before taking the job.
    const WorkerRefusal refusal = read_refusal(error_body);
    if (refusal.code == "SLOTS_BUSY") return {RelayOutcome::busy, refusal.code};
    if (refusal.code == "DRAINING" || error_body.empty())
      return {RelayOutcome::refused, refusal.code.empty() ? "no answer" : refusal.code};
    if (task.cancel_requested.load()) return {RelayOutcome::abandoned, ""};
    task.push("error", api::error_event(
                           refusal.code == "UNAUTHORIZED" ? "WORKER_REFUSED" : "INVALID_REQUEST",
                           fmt::format("worker {} refused the request: {}", where.worker_id,
                                       refusal.message),
                           task.correlation_id()));
    return {RelayOutcome::rejected, refusal.message};
  }
  if (task.cancel_requested.load()) return {RelayOutcome::abandoned, "hung up after cancel"};
  return {RelayOutcome::lost, "the stream ended without a terminal event"};
}

std::string crash_report(const Placement& where, std::chrono::milliseconds patience) {
  if (where.pool_url.empty()) return "";
  const auto deadline = Clock::now() + patience;
  for (;;) {
    try {
      net::ClientRequest request{.method = "GET",
                                 .url = where.pool_url + "/v1/workers/" + where.worker_id};
      request.timeout = std::chrono::milliseconds(1000);
      if (!where.pool_token.empty())
        request.headers.emplace_back("Authorization", "Bearer " + where.pool_token);
      const auto response = net::http_call(request);
      if (response.status == 401) return "";  // this orchestrator lacks the pool's token
      const auto body = api::parse_untrusted(response.body);
      if (response.status == 200 && body.is_object()) {
        const std::string state = api::string_or(body, "state");
        const auto last_error = body.find("last_error");
        if (last_error != body.end() && last_error->is_string()) {
          return fmt::format("pool {} reports: {} (now {})", where.pool_id,
                             last_error->get<std::string>(), state);
        }
        if (state != "ready" && state != "busy")
          return fmt::format("pool {} reports the worker {}", where.pool_id, state);
      } else if (response.status == 404) {
        return fmt::format("pool {} no longer lists the worker", where.pool_id);
      }
    } catch (const std::exception& e) {
      if (Clock::now() >= deadline)
        return fmt::format("pool {} did not answer: {}", where.pool_id, e.what());
    }
    if (Clock::now() >= deadline) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool cancel_on_worker(const Placement& where, const std::string& job_id,
                      const std::string& correlation_id) {
  try {
    net::ClientRequest request{.method = "POST",
                               .url = where.worker_url + "/cancel",
                               .body = Json{{"job_id", job_id}}.dump()};
    request.headers.emplace_back("X-Correlation-Id", correlation_id);
    if (!where.worker_secret.empty())
      request.headers.emplace_back("Authorization", "Bearer " + where.worker_secret);
    request.timeout = std::chrono::milliseconds(2000);
    return net::http_call(request).status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace llorch::orchestrator
