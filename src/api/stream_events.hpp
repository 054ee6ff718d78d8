// The worker's SSE stream: each event's JSON payload (discriminated by "type") and the frame
// format. One definition for the worker that writes them and every client that reads them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "narration/event.hpp"

namespace llorch::api {

// "id: <id>\nevent: <type>\ndata: <json>\n\n". `data` must not contain a newline (our JSON never
// does).
std::string sse_frame(std::uint64_t id, std::string_view type, std::string_view data);

std::string started_event(std::string_view job_id, std::string_view correlation_id,
                          std::string_view model, std::size_t max_tokens);
// Every event carries the request's correlation id, so any single frame can be traced.
// A token's log-probability and the likeliest alternatives at its step (id, bytes, logprob).
struct TokenChoice {
  std::int32_t id;
  std::string_view bytes;
  float logprob;
};
std::string token_event(std::string_view text, std::uint64_t index, std::int32_t token_id,
                        std::string_view correlation_id);
std::string token_event(std::string_view text, std::uint64_t index, std::int32_t token_id,
                        std::string_view correlation_id, const TokenChoice& chosen,
                        std::span<const TokenChoice> top);
// The event's text in the request's narration mode (human when the event has none in that mode).
std::string narration_event(const narration::Event& event, narration::Mode mode);
std::string metrics_event(std::size_t tokens_in, std::size_t tokens_out, double prompt_ms,
                          double first_token_ms, double decode_ms, std::string_view correlation_id);
std::string end_event(std::size_t tokens_out, double decode_time_ms, std::string_view stop_reason,
                      std::string_view correlation_id);
std::string error_event(std::string_view code, std::string_view message,
                        std::string_view correlation_id);

}  // namespace llorch::api
