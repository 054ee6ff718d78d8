#include "worker/job_runner.hpp"

#include <random>
#include <stdexcept>

#include "api/stream_events.hpp"
#include "engine/model_file_guard.hpp"
#include "narration/narrate.hpp"

namespace llorch::worker {

namespace n = llorch::narration;

JobGeneration prepare_job(Job& job, std::size_t progress_every) {
  const api::ExecuteRequest& r = job.request;
  JobGeneration g;
  g.request.prompt = r.prompt;
  g.request.max_new_tokens = r.max_tokens;
  g.request.sampling = {.temperature = r.temperature,
                        .top_k = r.top_k,
                        .top_p = r.top_p,
                        .min_p = r.min_p,
                        .repetition_penalty = r.repetition_penalty,
                        .seed = r.seed.value_or(std::random_device{}())};
  g.request.stop = r.stop;
  g.request.ignore_eos = r.ignore_eos;
  g.request.progress_every = progress_every;
  g.request.parse_special = !r.messages.empty();  // rendered from the model's chat template
  g.request.logprobs = r.logprobs.value_or(-1);

  auto index = std::make_shared<std::uint64_t>(0);
  g.hooks.on_token = [&job, index](engine::TokenId id, std::string_view text,
                                   const engine::TokenLogprobs* logprobs) {
    if (logprobs == nullptr) {
      job.context.channel->push(
          {"token", api::token_event(text, (*index)++, id, job.context.correlation_id)});
      return true;
    }
    std::vector<api::TokenChoice> top;
    for (const auto& a : logprobs->top) top.push_back({a.id, a.piece, a.logprob});
    const api::TokenChoice chosen{id, logprobs->piece, logprobs->logprob};
    job.context.channel->push(
        {"token", api::token_event(text, (*index)++, id, job.context.correlation_id, chosen, top)});
    return true;
  };
  g.hooks.cancel = &job.cancel;
  g.hooks.context = job.context;
  return g;
}

narration::StreamMessage finish_job(Job& job, const engine::GenerationResult& result,
                                    WorkerMetrics& metrics) {
  if (engine::model_file_changed()) {
    // What was computed since the file changed cannot be trusted; say why the stream ends.
    return fail_job(job, std::runtime_error(engine::model_file_change_reason()), metrics);
  }
  auto& channel = *job.context.channel;
  channel.push({"metrics", api::metrics_event(result.prompt_tokens.size(), result.tokens.size(),
                                              result.prompt_ms, result.first_token_ms,
                                              result.generate_ms, job.context.correlation_id)});
  metrics.count_request(result.stop_reason == engine::StopReason::cancelled ? "cancelled"
                                                                            : "completed");
  metrics.count_tokens(result.tokens.size());
  if (!result.tokens.empty()) {
    metrics.observe_first_token(result.first_token_ms / 1000.0);
    metrics.observe_token_latency(result.generate_ms / 1000.0 /
                                  static_cast<double>(result.tokens.size()));
  }
  metrics.count_dropped_narration(channel.dropped());
  return {"end", api::end_event(result.tokens.size(), result.generate_ms,
                                engine::to_string(result.stop_reason), job.context.correlation_id)};
}

narration::StreamMessage fail_job(Job& job, const std::exception& e, WorkerMetrics& metrics) {
  n::RequestScope scope(job.context);
  const bool too_long = dynamic_cast<const std::invalid_argument*>(&e) != nullptr;
  const char* code = too_long                       ? "PROMPT_TOO_LONG"
                     : engine::model_file_changed() ? "MODEL_FILE_CHANGED"
                                                    : "INFERENCE_FAILED";
  n::error(n::actor::inference_engine, n::action::inference_failed)
      .target(job.context.job_id)
      .human("Inference failed: {}", e.what())
      .cute("Oh no, something went wrong: {} 😟", e.what())
      .error_kind(code)
      .emit();
  metrics.count_request("failed");
  metrics.count_dropped_narration(job.context.channel->dropped());
  return {"error", api::error_event(code, e.what(), job.context.correlation_id)};
}

}  // namespace llorch::worker
