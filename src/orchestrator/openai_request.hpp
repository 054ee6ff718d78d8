// The OpenAI-compatible endpoints' requests (/v1/completions, /v1/chat/completions) as tasks, and
// OpenAI's error shape. Parsing only: no server parts, so that it can be fuzzed on its own.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/errors.hpp"
#include "net/http_types.hpp"
#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

struct OpenAiRequest {
  TaskSpec spec;
  bool chat = false;
  bool stream = false;
  bool include_usage = false;
  bool narration = false;
  bool logprobs = false;             // each choice carries its tokens' log-probabilities
  std::string model;                 // as the client named it, echoed back
  std::vector<std::string> ignored;  // fields accepted with nothing to do (narrated once)
};

// Every failing field; OpenAI's fields are mapped onto the worker's request, whose rules then
// judge the shared ones (ranges, stop strings).
std::variant<OpenAiRequest, std::vector<api::FieldError>> parse_openai_request(
    std::string_view body, bool chat);

// {"error":{"message","type","param","code","details","correlation_id"}}: OpenAI's shape, with
// every failing field in details.
net::HttpResponse openai_error(unsigned status, std::string_view type, std::string_view code,
                               std::string_view message, const std::string& correlation_id,
                               const std::vector<api::FieldError>& details = {});

}  // namespace llorch::orchestrator
