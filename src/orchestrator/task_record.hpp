// A task's entry in the shared task bucket (llorch_tasks) when replicas share the state: what
// was asked, who holds it now and how it ended. Replicas change it only by compare-and-set, so
// two of them never both claim or both take over a task.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

struct TaskRecord {
  std::string id;
  std::string correlation_id;
  std::string traceparent;
  std::string owner;  // the API key's client
  std::string model;
  bool cancel_on_disconnect = true;
  std::string request;  // the /execute body
  // queued (in the shared queue), claimed (a replica took it), running (on a worker), then
  // completed, cancelled or failed.
  std::string state = "queued";
  std::string replica;  // the replica that holds it ("" while queued)
  std::string pool_id;
  std::string worker_id;
  std::int64_t created_ms = 0;  // Unix time
  std::size_t tokens_out = 0;
  std::string stop_reason;
  std::string error_code;
  std::string error_message;

  bool ended() const { return state == "completed" || state == "cancelled" || state == "failed"; }
  // Milliseconds since it was admitted, by this host's clock.
  std::int64_t age_ms() const;
};

// A new task's record (queued).
TaskRecord record_of(const Task& task);
std::string to_json(const TaskRecord& record);
// nullopt for anything that is not a record.
std::optional<TaskRecord> parse_record(std::string_view text);
// The task the record describes (its request parsed back: throws std::invalid_argument if it
// does not parse, which only a record written by something else can cause).
TaskSpec spec_of(const TaskRecord& record);
// The record's terminal state after the frame `type`/`data` (end or error).
void note_terminal(TaskRecord& record, const std::string& type, const std::string& data);
// GET /v2/tasks/{id} from the record (a task another replica holds, or one that ended).
nlohmann::ordered_json describe(const TaskRecord& record);

}  // namespace llorch::orchestrator
