#include "orchestrator/task_request.hpp"

#include <nlohmann/json.hpp>

#include "api/execute_request.hpp"
#include "api/json_input.hpp"

namespace llorch::orchestrator {

// The orchestrator does not know every worker's context length: it checks generous limits, and
// the worker that takes the task checks its own (an error event says so).
constexpr api::ExecuteLimits kTaskLimits{131072, 262144};

std::variant<TaskSpec, std::vector<api::FieldError>> parse_task_request(std::string_view text) {
  std::vector<api::FieldError> errors;
  api::JsonProblem problem = api::JsonProblem::none;
  nlohmann::json body = api::parse_untrusted(text, &problem);
  if (body.is_discarded()) return std::vector<api::FieldError>{api::body_error(problem)};
  TaskSpec spec;
  if (body.is_object()) {
    if (const auto m = body.find("model"); m != body.end()) {
      if (!m->is_string() || m->get_ref<const std::string&>().empty())
        errors.push_back({"model", "type:string", "model must be a model id (GET /v1/models)"});
      else
        spec.model = m->get<std::string>();
      body.erase("model");
    }
    // Task ids come from the OS's random generator: a client-chosen id could squat another's.
    if (body.contains("job_id")) {
      errors.push_back({"job_id", "unknown",
                        "job_id is chosen by the orchestrator (a random id in the answer); "
                        "remove it"});
      body.erase("job_id");
    }
    if (const auto d = body.find("on_disconnect"); d != body.end()) {
      if (*d == "cancel" || *d == "continue")
        spec.cancel_on_disconnect = *d == "cancel";
      else
        errors.push_back({"on_disconnect", "enum:cancel,continue",
                          "on_disconnect must be cancel (the default) or continue"});
      body.erase("on_disconnect");
    }
  }
  auto parsed = api::parse_execute_request(body.dump(), kTaskLimits);
  if (auto* more = std::get_if<std::vector<api::FieldError>>(&parsed)) {
    for (auto& e : *more) {
      if (e.constraint == "unknown") e.message = e.field + " is not a field of a task; remove it";
      errors.push_back(std::move(e));
    }
  }
  if (!errors.empty()) return errors;
  spec.request = std::get<api::ExecuteRequest>(std::move(parsed));
  return spec;
}

}  // namespace llorch::orchestrator
