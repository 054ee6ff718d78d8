#include "api/stream_events.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace llorch::api {
namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string sse_frame(std::uint64_t id, std::string_view type, std::string_view data) {
  return fmt::format("id: {}\nevent: {}\ndata: {}\n\n", id, type, data);
}

std::string started_event(std::string_view job_id, std::string_view correlation_id,
                          std::string_view model, std::size_t max_tokens) {
  return dump({{"type", "started"},
               {"job_id", job_id},
               {"correlation_id", correlation_id},
               {"model", model},
               {"max_tokens", max_tokens}});
}

std::string token_event(std::string_view text, std::uint64_t index, std::int32_t token_id,
                        std::string_view correlation_id) {
  return dump({{"type", "token"},
               {"t", text},
               {"i", index},
               {"id", token_id},
               {"correlation_id", correlation_id}});
}

std::string token_event(std::string_view text, std::uint64_t index, std::int32_t token_id,
                        std::string_view correlation_id, const TokenChoice& chosen,
                        std::span<const TokenChoice> top) {
  const auto bytes_of = [](std::string_view bytes) {
    Json out = Json::array();
    for (const char b : bytes) out.push_back(static_cast<unsigned char>(b));
    return out;
  };
  Json alternatives = Json::array();
  for (const auto& c : top) {
    alternatives.push_back(
        {{"id", c.id}, {"t", c.bytes}, {"bytes", bytes_of(c.bytes)}, {"logprob", c.logprob}});
  }
  return dump({{"type", "token"},
               {"t", text},
               {"i", index},
               {"id", token_id},
               {"bytes", bytes_of(chosen.bytes)},
               {"logprob", chosen.logprob},
               {"top_logprobs", alternatives},
               {"correlation_id", correlation_id}});
}

std::string narration_event(const narration::Event& e, narration::Mode mode) {
  Json j{{"type", "narration"},
         {"actor", e.actor},
         {"action", e.action},
         {"target", e.target},
         {"human", narration::text_for(e, mode)},
         {"level", narration::to_string(e.level)},
         {"correlation_id", e.correlation_id},
         {"job_id", e.job_id},
         {"ts", e.ts}};
  if (e.tokens_in) j["tokens_in"] = *e.tokens_in;
  if (e.tokens_out) j["tokens_out"] = *e.tokens_out;
  if (e.duration_ms) j["duration_ms"] = *e.duration_ms;
  if (e.progress) j["progress"] = *e.progress;
  if (e.dropped_events) j["dropped_events"] = *e.dropped_events;
  if (e.error_kind) j["error_kind"] = *e.error_kind;
  if (e.queue_position) j["queue_position"] = *e.queue_position;
  if (!e.worker_id.empty()) j["worker_id"] = e.worker_id;
  if (!e.pool_id.empty()) j["pool_id"] = e.pool_id;
  return dump(j);
}

std::string metrics_event(std::size_t tokens_in, std::size_t tokens_out, double prompt_ms,
                          double first_token_ms, double decode_ms,
                          std::string_view correlation_id) {
  const double rate = decode_ms > 0 ? static_cast<double>(tokens_out) / (decode_ms / 1000.0) : 0.0;
  return dump({{"type", "metrics"},
               {"tokens_in", tokens_in},
               {"tokens_out", tokens_out},
               {"prompt_ms", prompt_ms},
               {"first_token_ms", first_token_ms},
               {"decode_ms", decode_ms},
               {"tokens_per_second", rate},
               {"correlation_id", correlation_id}});
}

std::string end_event(std::size_t tokens_out, double decode_time_ms, std::string_view stop_reason,
                      std::string_view correlation_id) {
  return dump({{"type", "end"},
               {"tokens_out", tokens_out},
               {"decode_time_ms", decode_time_ms},
               {"stop_reason", stop_reason},
               {"correlation_id", correlation_id}});
}

std::string error_event(std::string_view code, std::string_view message,
                        std::string_view correlation_id) {
  return dump({{"type", "error"},
               {"code", code},
               {"message", message},
               {"correlation_id", correlation_id}});
}

}  // namespace llorch::api
