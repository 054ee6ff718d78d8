// The OpenAI-compatible endpoints' answers: a task's stream as their chunks, or their one response.
// Narration only when the request opts in with the vendor field {"llorch": {"narration": true}}: as
// chunks with no choices (which OpenAI's own clients already skip, like the usage chunk).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "net/http_types.hpp"
#include "orchestrator/openai_request.hpp"
#include "orchestrator/scheduler.hpp"
#include "orchestrator/task.hpp"
#include "orchestrator/task_stream.hpp"

namespace llorch::orchestrator {

// The whole answer of a non-streaming request, once the task has ended.
net::HttpResponse openai_response(const Task& task, const OpenAiRequest& request,
                                  const std::string& correlation_id);

class OpenAiStream final : public TaskReader {
 public:
  OpenAiStream(std::shared_ptr<Task> task, OpenAiRequest request, Scheduler& scheduler,
               OrchestratorMetrics& metrics);

 private:
  void write(std::size_t index, const TaskFrame& frame, std::string& out) override;
  nlohmann::ordered_json chunk(nlohmann::ordered_json choices) const;
  nlohmann::ordered_json choice(const std::string& text, const nlohmann::ordered_json& finish,
                                nlohmann::ordered_json logprobs = nullptr);

  OpenAiRequest request_;
  std::size_t tokens_in_ = 0;
  std::size_t tokens_out_ = 0;
  bool sent_role_ = false;
  std::size_t text_offset_ = 0;  // characters sent so far (completions' logprobs.text_offset)
  long created_;
};

}  // namespace llorch::orchestrator
