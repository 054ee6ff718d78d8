// POST /v2/tasks: the worker's request fields (prompt or messages, sampling, stop,
// narration_mode) plus the orchestrator's own: `model` and `on_disconnect`.
#pragma once

#include <string_view>
#include <variant>
#include <vector>

#include "api/errors.hpp"
#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

std::variant<TaskSpec, std::vector<api::FieldError>> parse_task_request(std::string_view body);

}  // namespace llorch::orchestrator
