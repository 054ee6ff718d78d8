#include "orchestrator/task_record.hpp"

#include <chrono>
#include <limits>
#include <stdexcept>

#include "orchestrator/relay.hpp"

namespace llorch::orchestrator {

using Json = nlohmann::ordered_json;

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json or_null(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

}  // namespace

std::int64_t TaskRecord::age_ms() const {
  return unix_ms() - created_ms;
}

TaskRecord record_of(const Task& task) {
  TaskRecord r;
  r.id = task.id();
  r.correlation_id = task.correlation_id();
  r.traceparent = task.traceparent();
  r.owner = task.spec().owner;
  r.model = task.spec().model;
  r.cancel_on_disconnect = task.spec().cancel_on_disconnect;
  r.request = execute_body(task);
  r.created_ms = unix_ms();
  return r;
}

std::string to_json(const TaskRecord& r) {
  return Json{{"job_id", r.id},
              {"correlation_id", r.correlation_id},
              {"traceparent", r.traceparent},
              {"owner", r.owner},
              {"model", r.model},
              {"cancel_on_disconnect", r.cancel_on_disconnect},
              {"request", r.request},
              {"state", r.state},
              {"replica", r.replica},
              {"pool_id", r.pool_id},
              {"worker_id", r.worker_id},
              {"created_ms", r.created_ms},
              {"tokens_out", r.tokens_out},
              {"stop_reason", r.stop_reason},
              {"error_code", r.error_code},
              {"error_message", r.error_message}}
      .dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<TaskRecord> parse_record(std::string_view text) {
  const auto j = Json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("job_id") || !j["job_id"].is_string()) return std::nullopt;
  try {
    TaskRecord r;
    r.id = j.at("job_id").get<std::string>();
    r.correlation_id = j.at("correlation_id").get<std::string>();
    r.traceparent = j.at("traceparent").get<std::string>();
    r.owner = j.at("owner").get<std::string>();
    r.model = j.at("model").get<std::string>();
    r.cancel_on_disconnect = j.at("cancel_on_disconnect").get<bool>();
    r.request = j.at("request").get<std::string>();
    r.state = j.at("state").get<std::string>();
    r.replica = j.at("replica").get<std::string>();
    r.pool_id = j.at("pool_id").get<std::string>();
    r.worker_id = j.at("worker_id").get<std::string>();
    r.created_ms = j.at("created_ms").get<std::int64_t>();
    r.tokens_out = j.at("tokens_out").get<std::size_t>();
    r.stop_reason = j.at("stop_reason").get<std::string>();
    r.error_code = j.at("error_code").get<std::string>();
    r.error_message = j.at("error_message").get<std::string>();
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

TaskSpec spec_of(const TaskRecord& r) {
  // The worker checks the request against its model's limits: here it is only read back.
  const api::ExecuteLimits any{std::numeric_limits<std::size_t>::max(),
                               std::numeric_limits<std::size_t>::max()};
  auto parsed = api::parse_execute_request(r.request, any);
  if (std::holds_alternative<std::vector<api::FieldError>>(parsed))
    throw std::invalid_argument("task " + r.id +
                                ": its record holds a request that does not parse");
  TaskSpec spec;
  spec.owner = r.owner;
  spec.request = std::get<api::ExecuteRequest>(std::move(parsed));
  spec.model = r.model;
  spec.cancel_on_disconnect = r.cancel_on_disconnect;
  return spec;
}

void note_terminal(TaskRecord& r, const std::string& type, const std::string& data) {
  TerminalOutcome outcome = read_terminal(type, data);
  r.state = to_string(outcome.state);
  r.stop_reason = std::move(outcome.stop_reason);
  r.error_code = std::move(outcome.error_code);
  r.error_message = std::move(outcome.error_message);
}

Json describe(const TaskRecord& r) {
  // Claimed by a replica but on no worker yet (or refused by a busy one): it still waits.
  const std::string state = r.state == "claimed" ? "queued" : r.state;
  return Json{
      {"job_id", r.id},
      {"state", state},
      {"correlation_id", r.correlation_id},
      {"model", or_null(r.model)},
      {"queue_position", nullptr},
      {"worker_id", or_null(r.worker_id)},
      {"pool_id", or_null(r.pool_id)},
      {"replica", or_null(r.replica)},
      {"tokens_out", r.tokens_out},
      {"events", nullptr},
      {"stop_reason", or_null(r.stop_reason)},
      {"error", r.error_code.empty() ? Json(nullptr)
                                     : Json{{"code", r.error_code}, {"message", r.error_message}}},
      {"age_ms", r.age_ms()}};
}

}  // namespace llorch::orchestrator
