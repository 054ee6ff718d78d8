#include "orchestrator/task_stream.hpp"

#include "api/stream_events.hpp"

namespace llorch::orchestrator {

TaskReader::TaskReader(std::shared_ptr<Task> task, std::size_t from, Scheduler& scheduler,
                       OrchestratorMetrics& metrics)
    : task_(std::move(task)), next_(from), scheduler_(scheduler), metrics_(metrics) {}

TaskReader::~TaskReader() {
  leave();
}

bool TaskReader::pull(std::string& out) {
  // Ended before reading means the read takes the terminal frame: nothing follows it.
  const bool ended = task_->ended();
  std::vector<TaskFrame> frames;
  task_->read(next_, frames);
  const auto now = Clock::now();
  for (const auto& f : frames) {
    write(next_++, f, out);
    metrics_.observe_relay_lag(std::chrono::duration<double>(now - f.at).count());
  }
  return !ended;
}

void TaskReader::set_wakeup(std::function<void()> wake) {
  leave();
  if (wake) key_ = task_->subscribe(std::move(wake));
}

void TaskReader::on_disconnect() {
  leave();
  scheduler_.reader_left(task_);
}

void TaskReader::leave() {
  if (key_ != 0) task_->unsubscribe(key_);
  key_ = 0;
}

void TaskStream::write(std::size_t index, const TaskFrame& frame, std::string& out) {
  out += api::sse_frame(index, frame.type, frame.data);
}

}  // namespace llorch::orchestrator
