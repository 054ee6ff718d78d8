#include "orchestrator/task.hpp"

#include "api/json_input.hpp"
#include "api/stream_events.hpp"
#include "orchestrator/orchestrator_metrics.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;

namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

std::string_view to_string(TaskState state) {
  switch (state) {
    case TaskState::queued:
      return "queued";
    case TaskState::running:
      return "running";
    case TaskState::completed:
      return "completed";
    case TaskState::cancelled:
      return "cancelled";
    case TaskState::failed:
      return "failed";
  }
  return "failed";
}

Task::Task(std::string id, std::string correlation_id, std::string traceparent, TaskSpec spec,
           OrchestratorMetrics* metrics)
    : id_(std::move(id)),
      correlation_id_(std::move(correlation_id)),
      traceparent_(std::move(traceparent)),
      spec_(std::move(spec)),
      metrics_(metrics),
      channel_(std::make_shared<n::EventChannel>()) {}

std::shared_ptr<Task> Task::create(std::string id, std::string correlation_id,
                                   std::string traceparent, TaskSpec spec,
                                   OrchestratorMetrics* metrics) {
  std::shared_ptr<Task> task(new Task(std::move(id), std::move(correlation_id),
                                      std::move(traceparent), std::move(spec), metrics));
  task->channel_->set_on_ready([weak = std::weak_ptr<Task>(task)] {
    if (auto self = weak.lock()) self->absorb();
  });
  return task;
}

n::RequestContext Task::context() const {
  return {correlation_id_, id_, channel_};
}

void Task::push(std::string type, std::string data) {
  channel_->push({std::move(type), std::move(data)});
}

void Task::absorb() {
  std::vector<std::function<void()>> wake;
  bool close = false;
  {
    // Draining under the task's lock keeps the frames in the channel's order even when two
    // producers' wake-ups race.
    std::lock_guard lock(mutex_);
    for (auto& item : channel_->drain()) {
      if (ended_) break;
      if (auto* event = std::get_if<n::Event>(&item)) {
        append_locked("narration", api::narration_event(*event, spec_.request.narration_mode),
                      wake);
      } else {
        auto& message = std::get<n::StreamMessage>(item);
        append_locked(std::move(message.type), std::move(message.data), wake);
      }
    }
    close = ended_;
  }
  // Outside the lock: close() calls this again (it notifies), and finds nothing.
  if (close) channel_->close();
  for (auto& w : wake) w();
}

void Task::append_locked(std::string type, std::string data,
                         std::vector<std::function<void()>>& wake) {
  const auto now = Clock::now();
  last_frame_at_ = now;
  if (type == "token" && metrics_ != nullptr) {
    if (tokens_ == 0) {
      metrics_->observe_time_to_first_token(seconds_between(admitted_at_, now));
    } else {
      metrics_->observe_token_latency(seconds_between(last_token_at_, now));
    }
    last_token_at_ = now;
    ++tokens_;
  }
  if (type == "end" || type == "error") note_terminal_locked(type, data);
  frames_.push_back({std::move(type), std::move(data), now});
  if (observer_) observer_->frame(*this, frames_.back());
  if (wake.empty()) {
    for (const auto& [key, w] : subscribers_) wake.emplace_back(*w);
  }
}

TerminalOutcome read_terminal(const std::string& type, const std::string& data) {
  const auto body = api::parse_untrusted(data);
  TerminalOutcome out;
  if (type == "end") {
    out.stop_reason = api::string_or(body, "stop_reason");
    out.state = out.stop_reason == "CANCELLED" ? TaskState::cancelled : TaskState::completed;
  } else {
    out.error_code = api::string_or(body, "code", "WORKER_ERROR");
    out.error_message = api::string_or(body, "message", "the worker reported an error");
  }
  return out;
}

void Task::note_terminal_locked(const std::string& type, const std::string& data) {
  ended_ = true;
  TerminalOutcome outcome = read_terminal(type, data);
  state_ = outcome.state;
  stop_reason_ = std::move(outcome.stop_reason);
  error_code_ = std::move(outcome.error_code);
  error_message_ = std::move(outcome.error_message);
  if (metrics_ != nullptr) metrics_->count_request(std::string(to_string(state_)));
}

std::size_t Task::read(std::size_t from, std::vector<TaskFrame>& out) const {
  std::lock_guard lock(mutex_);
  for (std::size_t i = from; i < frames_.size(); ++i) out.push_back(frames_[i]);
  return frames_.size();
}

bool Task::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

std::uint64_t Task::subscribe(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  const std::uint64_t key = next_key_++;
  subscribers_[key] = std::make_shared<const std::function<void()>>(std::move(wake));
  return key;
}

void Task::unsubscribe(std::uint64_t key) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(key);
}

std::size_t Task::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

TaskState Task::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::size_t Task::tokens_out() const {
  std::lock_guard lock(mutex_);
  return tokens_;
}

void Task::set_running(Placement placement) {
  std::lock_guard lock(mutex_);
  placement_ = std::move(placement);
  if (state_ == TaskState::queued) state_ = TaskState::running;
  dispatched_at_ = last_frame_at_ = Clock::now();
  if (observer_) observer_->placed(*this, placement_);
  // A new placement: what ended the previous relay does not end this one.
  abandoned_because_.clear();
  relay_abandoned_.store(false);
  if (metrics_ != nullptr)
    metrics_->observe_queue_wait(seconds_between(admitted_at_, dispatched_at_));
}

void Task::set_queued() {
  std::lock_guard lock(mutex_);
  if (state_ == TaskState::running) state_ = TaskState::queued;
  if (observer_) observer_->placed(*this, Placement{});
}

Placement Task::placement() const {
  std::lock_guard lock(mutex_);
  return placement_;
}

void Task::abandon_relay(std::string why) {
  {
    std::lock_guard lock(mutex_);
    if (abandoned_because_.empty()) abandoned_because_ = std::move(why);
  }
  relay_abandoned_.store(true);
}

std::string Task::abandoned_because() const {
  std::lock_guard lock(mutex_);
  return abandoned_because_;
}

Clock::time_point Task::last_frame_at() const {
  std::lock_guard lock(mutex_);
  return last_frame_at_;
}

nlohmann::ordered_json Task::describe(std::size_t queue_position) const {
  std::lock_guard lock(mutex_);
  using Json = nlohmann::ordered_json;
  Json j{
      {"job_id", id_},
      {"state", to_string(state_)},
      {"correlation_id", correlation_id_},
      {"model", spec_.model.empty() ? Json(nullptr) : Json(spec_.model)},
      {"queue_position", state_ == TaskState::queued ? Json(queue_position) : Json(nullptr)},
      {"worker_id", placement_.worker_id.empty() ? Json(nullptr) : Json(placement_.worker_id)},
      {"pool_id", placement_.pool_id.empty() ? Json(nullptr) : Json(placement_.pool_id)},
      {"tokens_out", tokens_},
      {"events", frames_.size()},
      {"stop_reason", stop_reason_.empty() ? Json(nullptr) : Json(stop_reason_)},
      {"error", error_code_.empty() ? Json(nullptr)
                                    : Json{{"code", error_code_}, {"message", error_message_}}},
      {"age_ms",
       std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - admitted_at_).count()}};
  return j;
}

}  // namespace llorch::orchestrator
