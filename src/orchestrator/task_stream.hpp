// Following a task's stream over HTTP: its stored frames from a given index on, then live ones as
// they arrive, until its terminal event. A reader that goes away may cancel the task (the
// scheduler decides). TaskReader does the following; its subclasses say how frames are written:
// TaskStream as llorch's SSE events (GET /v2/tasks/{id}/events, resumable with Last-Event-ID),
// OpenAiStream (openai_api.hpp) as OpenAI chunks.
#pragma once

#include <memory>

#include "net/http_types.hpp"
#include "orchestrator/scheduler.hpp"
#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

class TaskReader : public net::FrameSource {
 public:
  TaskReader(std::shared_ptr<Task> task, std::size_t from, Scheduler& scheduler,
             OrchestratorMetrics& metrics);
  ~TaskReader() override;

  bool pull(std::string& out) final;
  void set_wakeup(std::function<void()> wake) final;
  void on_disconnect() final;

 protected:
  // Appends what the client sees of frame number `index`.
  virtual void write(std::size_t index, const TaskFrame& frame, std::string& out) = 0;
  const Task& task() const { return *task_; }

 private:
  void leave();

  std::shared_ptr<Task> task_;
  std::size_t next_;
  Scheduler& scheduler_;
  OrchestratorMetrics& metrics_;
  std::uint64_t key_ = 0;
};

class TaskStream final : public TaskReader {
 public:
  using TaskReader::TaskReader;

 private:
  void write(std::size_t index, const TaskFrame& frame, std::string& out) override;
};

}  // namespace llorch::orchestrator
