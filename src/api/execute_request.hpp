// POST /execute: the request, its defaults and limits, and its validation (every failing field).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/errors.hpp"
#include "narration/event.hpp"

namespace llorch::api {

// One turn of a conversation (`messages` instead of `prompt`).
struct ChatTurn {
  std::string role;  // system | user | assistant
  std::string content;
};

struct ExecuteRequest {
  std::string job_id;                 // 1-64 of [A-Za-z0-9._:-]; generated when absent
  std::string prompt;                 // this or `messages`, at most kMaxPromptBytes
  std::vector<ChatTurn> messages;     // rendered with the model's chat template by the worker
  std::size_t max_tokens = 128;       // 1..context length
  float temperature = 0.8f;           // 0 (greedy)..2
  float top_p = 0.95f;                // 0..1 (1: off)
  int top_k = 40;                     // 0 (off)..vocabulary size
  float min_p = 0.05f;                // 0 (off)..1
  float repetition_penalty = 1.0f;    // 0.5..2 (1: off)
  std::optional<std::uint64_t> seed;  // absent: a fresh random seed
  std::vector<std::string> stop;      // at most 8 strings of 1..64 bytes
  narration::Mode narration_mode = narration::Mode::human;
  bool ignore_eos = false;      // keep generating past end-of-generation tokens
  std::optional<int> logprobs;  // 0..20: each token's log-probability and this many alternatives
};

inline constexpr int kMaxLogprobs = 20;

struct ExecuteLimits {
  std::size_t context_length = 2048;
  std::size_t vocab_size = 32000;
};

inline constexpr std::size_t kMaxPromptBytes = 256 * 1024;
inline constexpr std::size_t kMaxStopStrings = 8;
inline constexpr std::size_t kMaxStopBytes = 64;
inline constexpr std::size_t kMaxMessages = 256;

// Parses the body text. Returns the request, or every problem found (malformed JSON is one
// problem on field ""). Unknown fields are errors: a typo must not silently become a default.
std::variant<ExecuteRequest, std::vector<FieldError>> parse_execute_request(
    std::string_view body, const ExecuteLimits& limits);

}  // namespace llorch::api
