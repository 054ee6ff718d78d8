// GET /v2/tasks/{id}/events: a task's stored frames from a given id on, then live ones as they
// arrive, until its terminal event. Readers are independent; each can resume with Last-Event-ID.
#pragma once

#include <memory>

#include "net/http_types.hpp"
#include "orchestrator/scheduler.hpp"
#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

class TaskStream final : public net::FrameSource {
 public:
  TaskStream(std::shared_ptr<Task> task, std::size_t from, Scheduler& scheduler,
             OrchestratorMetrics& metrics);
  ~TaskStream() override;

  bool pull(std::string& out) override;
  void set_wakeup(std::function<void()> wake) override;
  void on_disconnect() override;

 private:
  void leave();

  std::shared_ptr<Task> task_;
  std::size_t next_;
  Scheduler& scheduler_;
  OrchestratorMetrics& metrics_;
  std::uint64_t key_ = 0;
};

}  // namespace llorch::orchestrator
