#include "orchestrator/worker_events.hpp"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "api/json_input.hpp"
#include "api/stream_events.hpp"

namespace llorch::orchestrator {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::array<std::string_view, 5> kStopReasons{"MAX_TOKENS", "EOS", "STOP_SEQUENCE",
                                                       "CANCELLED", "CONTEXT_FULL"};
constexpr std::array<std::string_view, 6> kFrameTypes{"started", "narration", "token",
                                                      "metrics", "end",       "error"};

bool one_of(std::string_view value, const auto& set) {
  for (const auto& s : set)
    if (s == value) return true;
  return false;
}

// The codes a worker's error event may carry through to the user (the contract's ErrorEvent).
constexpr std::array<std::string_view, 4> kWorkerCodes{"PROMPT_TOO_LONG", "INFERENCE_FAILED",
                                                       "INVALID_REQUEST", "MODEL_FILE_CHANGED"};

bool is_code(std::string_view code) {
  if (code.empty() || code.size() > 64) return false;
  for (char c : code)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

std::optional<std::string> check_worker_frame(const std::string& type, const std::string& data) {
  if (!one_of(type, kFrameTypes)) {
    return fmt::format("an event of unknown type \"{}\"", type.substr(0, 32));
  }
  api::JsonProblem problem = api::JsonProblem::none;
  const Json body = api::parse_untrusted<Json>(data, &problem);
  if (problem == api::JsonProblem::too_deep) return fmt::format("a {} event nested too deep", type);
  if (!body.is_object()) return fmt::format("a {} event whose data is not a JSON object", type);
  if (type == "token" && !body.contains("t")) return "a token event without its text";
  if (type == "token" && !body["t"].is_string()) return "a token event whose text is not a string";
  if (type == "end") {
    const std::string reason = api::string_or(body, "stop_reason");
    if (!one_of(reason, kStopReasons))
      return fmt::format("an end event with an unknown stop_reason \"{}\"", reason.substr(0, 32));
  }
  return std::nullopt;
}

std::string normalized_worker_error(const std::string& data, const std::string& correlation_id) {
  const Json body = api::parse_untrusted<Json>(data);
  std::string code = api::string_or(body, "code");
  if (!one_of(code, kWorkerCodes)) code = "WORKER_ERROR";
  std::string message = api::string_or(body, "message");
  if (message.empty()) message = "the worker reported an error without saying which";
  if (message.size() > 1024) message.resize(1024);
  return api::error_event(code, message, correlation_id);
}

WorkerRefusal read_refusal(const std::string& body) {
  const Json parsed = api::parse_untrusted<Json>(body);
  const Json& error = api::object_or_empty(parsed, "error");
  WorkerRefusal r{api::string_or(error, "code"), api::string_or(error, "message")};
  if (!is_code(r.code)) r.code.clear();
  if (r.message.empty()) r.message = body;
  if (r.message.size() > 200) r.message.resize(200);
  return r;
}

bool WorkerStreamReader::feed(std::string_view chunk) {
  if (terminal_) return false;
  for (auto& event : parser_.feed(chunk)) {
    if (auto problem = check_worker_frame(event.event, event.data)) {
      broken_ = std::move(*problem);
      terminal_ = true;
      return false;
    }
    terminal_ = event.event == "end" || event.event == "error";
    if (event.event == "error")
      event.data = normalized_worker_error(event.data, task_.correlation_id());
    task_.push(std::move(event.event), std::move(event.data));
    if (terminal_) return false;
  }
  if (parser_.overflowed()) {
    broken_ = "an event larger than the stream parser takes";
    terminal_ = true;
    return false;
  }
  return true;
}

void WorkerStreamReader::end_broken(const std::string& worker_id) {
  task_.push("error", api::error_event("WORKER_PROTOCOL_ERROR",
                                       fmt::format("worker {} sent {}; the stream ends here",
                                                   worker_id, broken_),
                                       task_.correlation_id()));
}

}  // namespace llorch::orchestrator
