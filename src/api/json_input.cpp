#include "api/json_input.hpp"

#include <fmt/format.h>

namespace llorch::api {

std::size_t json_nesting_depth(std::string_view text, std::size_t stop_above) noexcept {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > stop_above) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

FieldError body_error(JsonProblem problem) {
  if (problem == JsonProblem::too_deep) {
    return {"", fmt::format("maxDepth:{}", kMaxJsonDepth),
            fmt::format("the body nests arrays and objects deeper than {} levels", kMaxJsonDepth)};
  }
  return {"", "json", "the body is not valid JSON"};
}

}  // namespace llorch::api
