// The OpenAI-compatible endpoints' answers: a task's stream as their chunks, or their one response.
// Narration only when the request opts in with the vendor field {"llorch": {"narration": true}}: as
// chunks with no choices (which OpenAI's own clients already skip, like the usage chunk).
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "net/http_types.hpp"
#include "orchestrator/openai_request.hpp"
#include "orchestrator/scheduler.hpp"
#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

// The whole answer of a non-streaming request, once the task has ended.
net::HttpResponse openai_response(const Task& task, const OpenAiRequest& request,
                                  const std::string& correlation_id);

class OpenAiStream final : public net::FrameSource {
 public:
  OpenAiStream(std::shared_ptr<Task> task, OpenAiRequest request, Scheduler& scheduler,
               OrchestratorMetrics& metrics);
  ~OpenAiStream() override;

  bool pull(std::string& out) override;
  void set_wakeup(std::function<void()> wake) override;
  void on_disconnect() override;

 private:
  void leave();

  std::shared_ptr<Task> task_;
  OpenAiRequest request_;
  Scheduler& scheduler_;
  OrchestratorMetrics& metrics_;
  std::uint64_t key_ = 0;
  std::size_t next_ = 0;
  std::size_t tokens_in_ = 0;
  std::size_t tokens_out_ = 0;
  bool sent_role_ = false;
  long created_;
};

}  // namespace llorch::orchestrator
