// The narration event record (design.md §3): a flat record, one JSON object per line on stdout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "narration/level.hpp"

namespace llorch::narration {

// Optional typed context, declared once: the record, the JSON writer, the parser and the builder
// are all generated from these lists, so a new field cannot be forgotten in one of them.
#define LLORCH_NARRATION_TEXT_FIELDS(X) \
  X(error_kind)                         \
  X(model_ref)                          \
  X(device)                             \
  X(address)                            \
  X(stop_reason)                        \
  X(state)

#define LLORCH_NARRATION_INTEGER_FIELDS(X) \
  X(tokens_in)                             \
  X(tokens_out)                            \
  X(duration_ms)                           \
  X(queue_position)                        \
  X(memory_bytes)                          \
  X(attempt)                               \
  X(exit_code)                             \
  X(signal)                                \
  X(pid)                                   \
  X(dropped_events)

#define LLORCH_NARRATION_REAL_FIELDS(X) \
  X(tokens_per_second)                  \
  X(progress)

struct Event {
  std::string actor;   // who acts: one of vocabulary.hpp's actors
  std::string action;  // what it does: one of vocabulary.hpp's actions
  std::string target;  // what it acted on: job id, address, model name, "kv-cache"
  std::string human;   // one plain sentence with concrete numbers
  std::string cute;    // optional whimsical version ("" when absent)
  std::string story;   // optional dialogue version ("" when absent)
  Level level = Level::info;

  std::string correlation_id;
  std::string job_id;
  std::string worker_id;
  std::string pool_id;

#define LLORCH_DECLARE_TEXT(name) std::optional<std::string> name;
#define LLORCH_DECLARE_INTEGER(name) std::optional<std::int64_t> name;
#define LLORCH_DECLARE_REAL(name) std::optional<double> name;
  LLORCH_NARRATION_TEXT_FIELDS(LLORCH_DECLARE_TEXT)
  LLORCH_NARRATION_INTEGER_FIELDS(LLORCH_DECLARE_INTEGER)
  LLORCH_NARRATION_REAL_FIELDS(LLORCH_DECLARE_REAL)
#undef LLORCH_DECLARE_TEXT
#undef LLORCH_DECLARE_INTEGER
#undef LLORCH_DECLARE_REAL

  std::string ts;          // RFC 3339 UTC with milliseconds, set at emission
  std::string emitted_by;  // component@version, set at emission

  bool operator==(const Event&) const = default;
};

// The user-facing text styles. A style an event lacks falls back to human.
enum class Mode : std::uint8_t { human, cute, story };

std::optional<Mode> parse_mode(std::string_view text) noexcept;
std::string_view to_string(Mode mode) noexcept;
const std::string& text_for(const Event& event, Mode mode) noexcept;

}  // namespace llorch::narration
