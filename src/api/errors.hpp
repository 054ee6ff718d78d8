// The error body every llorch HTTP endpoint answers with, and the per-field details of a 400.
#pragma once

#include <string>
#include <vector>

namespace llorch::api {

struct FieldError {
  std::string field;  // the JSON field ("prompt", "stop[2]", "" for the body itself)
  std::string
      constraint;       // the rule it broke, machine-readable ("required", "max:2", "type:string")
  std::string message;  // a sentence naming the fix
};

// {"error":{"code","message","details":[…],"correlation_id"}} (details only when non-empty).
std::string error_body(std::string_view code, std::string_view message,
                       const std::vector<FieldError>& details, std::string_view correlation_id);

}  // namespace llorch::api
