// libFuzzer target: a body for POST /v2/tasks, /v1/completions or /v1/chat/completions (the first
// byte picks which), followed through what the orchestrator does with an accepted one: the task
// it becomes, the /execute body it sends a worker — which the worker's own validation must
// accept — and the chat template the worker renders the messages with, in every format.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/execute_request.hpp"
#include "engine/chat_template.hpp"
#include "orchestrator/openai_request.hpp"
#include "orchestrator/relay.hpp"
#include "orchestrator/task_request.hpp"

namespace {

using namespace llorch;

void check_errors(const std::vector<api::FieldError>& errors) {
  if (errors.empty()) std::abort();
  for (const auto& e : errors)
    if (e.message.empty() || e.constraint.empty()) std::abort();
}

// What happens to an accepted request: a task, its worker request, the worker's judgement of
// it, and the chat template.
void follow(const orchestrator::TaskSpec& spec) {
  auto task = orchestrator::Task::create("task-fuzz", "fuzz", "", spec, nullptr);
  const std::string body = orchestrator::execute_body(*task);
  const auto judged = api::parse_execute_request(body, {131072, 262144});
  // The orchestrator must never send a worker a request the worker's rules refuse.
  if (!std::holds_alternative<api::ExecuteRequest>(judged)) std::abort();
  const auto& request = std::get<api::ExecuteRequest>(judged);
  if (!request.messages.empty()) {
    std::vector<engine::ChatMessage> messages;
    for (const auto& m : request.messages) messages.push_back({m.role, m.content});
    for (const auto format :
         {engine::ChatFormat::plain, engine::ChatFormat::chatml, engine::ChatFormat::llama2,
          engine::ChatFormat::llama3, engine::ChatFormat::zephyr, engine::ChatFormat::gemma,
          engine::ChatFormat::phi3}) {
      (void)engine::render_chat(format, messages);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto parsed = orchestrator::parse_task_request(text);
      if (auto* errors = std::get_if<std::vector<api::FieldError>>(&parsed)) {
        check_errors(*errors);
      } else {
        follow(std::get<orchestrator::TaskSpec>(parsed));
      }
      break;
    }
    default: {
      auto parsed = orchestrator::parse_openai_request(text, data[0] % 3 == 2);
      if (auto* errors = std::get_if<std::vector<api::FieldError>>(&parsed)) {
        check_errors(*errors);
        (void)orchestrator::openai_error(400, "invalid_request_error", "invalid_request", "x",
                                         "fuzz", *errors);
      } else {
        follow(std::get<orchestrator::OpenAiRequest>(parsed).spec);
      }
      break;
    }
  }
  return 0;
}
