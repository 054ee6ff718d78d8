// One user request in the orchestrator: what was asked, where it runs, and its stream — every
// event stored in order (its index is its SSE id), so that any number of readers can follow it and
// a reader that dropped can resume from any id.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/execute_request.hpp"
#include "narration/context.hpp"

namespace llorch::orchestrator {

class OrchestratorMetrics;

enum class TaskState { queued, running, completed, cancelled, failed };
std::string_view to_string(TaskState state);

// How a stream's terminal frame (`type` end or error, `data` its JSON) ends the task: one reading
// for the task itself and for its record in the shared state.
struct TerminalOutcome {
  TaskState state = TaskState::failed;
  std::string stop_reason;  // end
  std::string error_code;   // error
  std::string error_message;
};
TerminalOutcome read_terminal(const std::string& type, const std::string& data);

struct TaskSpec {
  std::string owner;            // the API key's client that created it ("" without keys)
  api::ExecuteRequest request;  // its job_id is the task's id
  std::string model;            // "" runs on any worker
  bool cancel_on_disconnect = true;
};

struct TaskFrame {
  std::string type;  // SSE event name: narration, started, token, metrics, end, error
  std::string data;  // its JSON
  std::chrono::steady_clock::time_point at;
};

// Where a running task runs.
struct Placement {
  std::string pool_id;
  std::string pool_url;
  std::string worker_id;
  std::string worker_url;
  std::string worker_secret;  // the worker's token, from its pool (bearer for /execute, /cancel)
  std::string pool_token;     // the pool API's token (crash reports)
};

using Clock = std::chrono::steady_clock;

class Task;

// With shared state (--state nats://…) the task's frames and placements are also written to the
// substrate: each frame under the task's lock, so in the stream's order.
class TaskObserver {
 public:
  virtual ~TaskObserver() = default;
  virtual void frame(const Task& task, const TaskFrame& frame) = 0;
  // On a worker (or, with an empty placement, back in the local queue: its worker refused it).
  virtual void placed(const Task& task, const Placement& where) = 0;
};

class Task : public std::enable_shared_from_this<Task> {
 public:
  static std::shared_ptr<Task> create(std::string id, std::string correlation_id,
                                      std::string traceparent, TaskSpec spec,
                                      OrchestratorMetrics* metrics);

  const std::string& id() const noexcept { return id_; }
  // Before its first frame.
  void set_observer(std::shared_ptr<TaskObserver> observer) { observer_ = std::move(observer); }
  const std::string& correlation_id() const noexcept { return correlation_id_; }
  const std::string& traceparent() const noexcept { return traceparent_; }
  const TaskSpec& spec() const noexcept { return spec_; }
  Clock::time_point admitted_at() const noexcept { return admitted_at_; }

  // Binding this context narrates on the task's behalf: the event goes to stdout and into the
  // task's stream, in order with everything else.
  narration::RequestContext context() const;
  // Appends a message of the worker's stream (or the orchestrator's own terminal event). After a
  // terminal event (end, error) nothing more is taken.
  void push(std::string type, std::string data);

  // Copies the frames from index `from` on; returns how many frames the stream holds.
  std::size_t read(std::size_t from, std::vector<TaskFrame>& out) const;
  bool ended() const;

  // Readers register a wake-up, called (from any thread) whenever frames arrive or it ends.
  std::uint64_t subscribe(std::function<void()> wake);
  void unsubscribe(std::uint64_t key);
  std::size_t subscribers() const;

  TaskState state() const;
  std::size_t tokens_out() const;
  void set_running(Placement placement);
  void set_queued();  // back in the queue after a worker refused it
  Placement placement() const;
  // Counted attempts to place it (a worker that refused or could not be reached).
  int attempts = 0;
  std::atomic<bool> cancel_requested{false};
  // The worker took it: its stream began (until then a refusal can still put it back).
  std::atomic<bool> accepted{false};
  // Its pool went away (left the registry, stopped heartbeating): the relay hangs up at once
  // instead of waiting for a silent stream, and the task ends WORKER_LOST with `why`.
  void abandon_relay(std::string why);
  std::string abandoned_because() const;
  Clock::time_point last_frame_at() const;  // its last frame's time, or its latest dispatch
  const std::atomic<bool>& relay_abandoned() const noexcept { return relay_abandoned_; }

  // GET /v2/tasks/{id}.
  nlohmann::ordered_json describe(std::size_t queue_position) const;

 private:
  Task(std::string id, std::string correlation_id, std::string traceparent, TaskSpec spec,
       OrchestratorMetrics* metrics);
  void absorb();  // the channel's items into frames, in order
  void append_locked(std::string type, std::string data, std::vector<std::function<void()>>& wake);
  void note_terminal_locked(const std::string& type, const std::string& data);

  const std::string id_;
  const std::string correlation_id_;
  const std::string traceparent_;
  const TaskSpec spec_;
  OrchestratorMetrics* metrics_;
  const Clock::time_point admitted_at_ = Clock::now();
  std::shared_ptr<narration::EventChannel> channel_;
  std::shared_ptr<TaskObserver> observer_;

  mutable std::mutex mutex_;
  std::vector<TaskFrame> frames_;
  std::map<std::uint64_t, std::shared_ptr<const std::function<void()>>> subscribers_;
  std::uint64_t next_key_ = 1;
  bool ended_ = false;
  TaskState state_ = TaskState::queued;
  Placement placement_;
  std::atomic<bool> relay_abandoned_{false};
  std::string abandoned_because_;  // guarded by mutex_
  Clock::time_point last_frame_at_ = Clock::now();
  Clock::time_point dispatched_at_{};
  Clock::time_point last_token_at_{};
  std::size_t tokens_ = 0;
  std::string stop_reason_;
  std::string error_code_;
  std::string error_message_;
};

}  // namespace llorch::orchestrator
