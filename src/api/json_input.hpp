// JSON that comes from outside the process (a client, a worker, a pool manager, a registered
// "pool"): parsed with a bound on nesting, and read with accessors that never throw on a value of
// the wrong type. nlohmann's `value()` throws on a present field of another type, and its dump,
// copy and comparison recurse once per level: either brings a process down on hostile input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/errors.hpp"

namespace llorch::api {

// Arrays and objects nested deeper than this are refused before parsing (400 JSON_TOO_DEEP).
inline constexpr std::size_t kMaxJsonDepth = 32;

// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count).
// Stops scanning once `stop_above` is exceeded and returns that depth.
std::size_t json_nesting_depth(std::string_view text, std::size_t stop_above) noexcept;

enum class JsonProblem { none, malformed, too_deep };

// Parses `text`; on failure returns a discarded value and says why in `problem`.
template <typename Json = nlohmann::json>
Json parse_untrusted(std::string_view text, JsonProblem* problem = nullptr,
                     std::size_t max_depth = kMaxJsonDepth) {
  const auto say = [&](JsonProblem p) {
    if (problem != nullptr) *problem = p;
  };
  if (json_nesting_depth(text, max_depth) > max_depth) {
    say(JsonProblem::too_deep);
    return Json(Json::value_t::discarded);
  }
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  say(parsed.is_discarded() ? JsonProblem::malformed : JsonProblem::none);
  return parsed;
}

// The one FieldError (field "") for a body that did not parse: constraint "json" when malformed,
// "maxDepth:32" when nested too deep.
FieldError body_error(JsonProblem problem);

// object[key] when `object` is an object and that field is a string; otherwise `fallback`.
template <typename Json>
std::string string_or(const Json& object, std::string_view key, std::string fallback = {}) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return fallback;
  return it->template get<std::string>();
}

// object[key] when it is a non-negative integer; otherwise `fallback`.
template <typename Json>
std::uint64_t count_or(const Json& object, std::string_view key, std::uint64_t fallback = 0) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (it->is_number_unsigned()) return it->template get<std::uint64_t>();
  if (it->is_number_integer() && it->template get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(it->template get<std::int64_t>());
  return fallback;
}

// object[key] when it is an object; otherwise an empty object.
template <typename Json>
const Json& object_or_empty(const Json& object, std::string_view key) {
  static const Json kEmpty = Json::object();
  if (!object.is_object()) return kEmpty;
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace llorch::api
