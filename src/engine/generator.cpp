#include "engine/generator.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "narration/narrate.hpp"

namespace llorch::engine {
namespace {

namespace n = llorch::narration;

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// Holds back generated text that might be the start of a stop string, and finds stop strings
// that span several tokens.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops) : stops_(stops) {}

  // Adds text; returns what may be shown now. Sets `stopped` when a stop string completed (the
  // returned text then ends just before it).
  std::string push(std::string_view text, bool& stopped) {
    pending_ += text;
    std::size_t first = std::string::npos;
    for (const auto& s : stops_) {
      if (s.empty()) continue;
      first = std::min(first, pending_.find(s));
    }
    if (first != std::string::npos) {
      stopped = true;
      std::string out = pending_.substr(0, first);
      pending_.clear();
      return out;
    }
    // Keep the longest tail that is a prefix of some stop string.
    std::size_t keep = 0;
    for (const auto& s : stops_) {
      for (std::size_t k = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); k > keep;
           --k) {
        if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
          keep = k;
          break;
        }
      }
    }
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
  }

  std::string finish() { return std::exchange(pending_, {}); }

 private:
  const std::vector<std::string>& stops_;
  std::string pending_;
};

void narrate_cancelled(const GenerationResult& result) {
  n::info(n::actor::inference_engine, n::action::inference_cancelled)
      .human("Cancelled after {} tokens", result.tokens.size())
      .cute("Stopped on request after {} tokens 🛑", result.tokens.size())
      .tokens_out(static_cast<std::int64_t>(result.tokens.size()))
      .stop_reason(to_string(StopReason::cancelled))
      .emit();
}

}  // namespace

std::string_view to_string(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::eos:
      return "EOS";
    case StopReason::stop_sequence:
      return "STOP_SEQUENCE";
    case StopReason::context_full:
      return "CONTEXT_FULL";
    case StopReason::cancelled:
      return "CANCELLED";
    case StopReason::max_tokens:
      break;
  }
  return "MAX_TOKENS";
}

Generator::Generator(std::shared_ptr<const Model> model, std::size_t threads)
    : model_(model), tokenizer_(Tokenizer::create(model->vocab)), state_(model, threads) {}

GenerationResult Generator::generate(const GenerationRequest& request,
                                     const GenerationHooks& hooks) {
  const auto cancelled_now = [&] {
    return hooks.cancel != nullptr && hooks.cancel->load(std::memory_order_relaxed);
  };
  const Vocabulary& vocab = model_->vocab;
  const std::size_t context = model_->config.context_length;
  GenerationResult result;
  result.prompt_tokens = request.parse_special
                             ? encode_with_special_tokens(*tokenizer_, request.prompt, true)
                             : tokenizer_->encode(request.prompt, true);
  if (result.prompt_tokens.empty()) {
    // A vocabulary without BOS and an empty prompt: nothing to condition on.
    throw std::invalid_argument("the prompt is empty and the model has no BOS token to start from");
  }
  if (result.prompt_tokens.size() >= context) {
    throw std::invalid_argument("the prompt has " + std::to_string(result.prompt_tokens.size()) +
                                " tokens; the context holds " + std::to_string(context));
  }
  n::info(n::actor::tokenizer, n::action::tokenize)
      .human("Tokenized prompt ({} tokens)", result.prompt_tokens.size())
      .cute("Chopped the prompt into {} tasty pieces! 🍰", result.prompt_tokens.size())
      .tokens_in(static_cast<std::int64_t>(result.prompt_tokens.size()))
      .emit();

  state_.reset();
  n::info(n::actor::inference_engine, n::action::cache_reset)
      .target("kv-cache")
      .human("Reset the KV cache ({} positions)", context)
      .cute("Fresh notebook, {} empty pages 📓", context)
      .emit();

  // Prompt: every token through the model; the logits of the last one give the first new token.
  const auto prompt_start = std::chrono::steady_clock::now();
  auto last_progress = prompt_start;
  std::span<const float> logits;
  const std::size_t prompt_size = result.prompt_tokens.size();
  // In batches: each weight matrix is read once per batch, not once per token; a batch is small
  // enough that cancellation and progress are still noticed within a fraction of a second.
  constexpr std::size_t kPromptBatch = 64;
  for (std::size_t pos = 0; pos < prompt_size;) {
    if (cancelled_now()) {
      result.stop_reason = StopReason::cancelled;
      result.prompt_ms = elapsed_ms(prompt_start);
      narrate_cancelled(result);
      return result;
    }
    const std::size_t count = std::min(kPromptBatch, prompt_size - pos);
    logits = state_.forward_batch(
        std::span<const TokenId>(result.prompt_tokens).subspan(pos, count), pos);
    pos += count;
    if (std::chrono::steady_clock::now() - last_progress >= std::chrono::seconds(1) &&
        pos < prompt_size) {
      last_progress = std::chrono::steady_clock::now();
      const double fraction = static_cast<double>(pos) / static_cast<double>(prompt_size);
      n::info(n::actor::inference_engine, n::action::prompt_progress)
          .human("Processing prompt: {} of {} tokens ({:.0f}%)", pos, prompt_size, fraction * 100)
          .cute("Reading the prompt… {:.0f}% through! 📖", fraction * 100)
          .tokens_in(static_cast<std::int64_t>(pos))
          .progress(fraction)
          .emit();
    }
  }
  result.prompt_ms = elapsed_ms(prompt_start);

  n::info(n::actor::inference_engine, n::action::inference_start)
      .human("Starting inference (up to {} tokens)", request.max_new_tokens)
      .cute("Off we go! Up to {} tokens 🚀", request.max_new_tokens)
      .tokens_in(static_cast<std::int64_t>(result.prompt_tokens.size()))
      .emit();

  const auto generate_start = std::chrono::steady_clock::now();
  Sampler sampler(request.sampling);
  // Text after a prompt keeps its leading space ("time" + " there"); text from BOS alone drops
  // the SentencePiece prefix space, as the prompt's own would be dropped.
  StreamDecoder decoder(*tokenizer_, request.prompt.empty() && tokenizer_->adds_space_prefix());
  StopMatcher stops(request.stop);
  std::vector<TokenId> history = result.prompt_tokens;
  std::vector<float> scratch;
  bool cancelled = false;
  const auto show = [&](TokenId id, const std::string& text) {
    result.text += text;
    if (hooks.on_token && !hooks.on_token(id, text)) cancelled = true;
  };

  while (true) {
    if (result.tokens.size() >= request.max_new_tokens) {
      result.stop_reason = StopReason::max_tokens;
      break;
    }
    scratch.assign(logits.begin(), logits.end());
    if (request.ignore_eos) {
      for (TokenId id : {vocab.eos, vocab.eot, vocab.bos}) {
        if (id >= 0)
          scratch[static_cast<std::size_t>(id)] = -std::numeric_limits<float>::infinity();
      }
    }
    const TokenId next = sampler.sample(scratch, history);
    if (vocab.is_end_of_generation(next) || next == vocab.bos) {
      result.stop_reason = StopReason::eos;  // a model that emits BOS starts a new document
      break;
    }
    if (result.tokens.empty()) result.first_token_ms = elapsed_ms(prompt_start);
    result.tokens.push_back(next);
    history.push_back(next);
    bool stopped = false;
    show(next, stops.push(decoder.push(next), stopped));
    if (stopped) {
      result.stop_reason = StopReason::stop_sequence;
      break;
    }
    if (cancelled || cancelled_now()) {
      result.stop_reason = StopReason::cancelled;
      break;
    }
    if (request.progress_every > 0 && result.tokens.size() % request.progress_every == 0) {
      n::info(n::actor::inference_engine, n::action::token_generate)
          .human("Generated {} tokens", result.tokens.size())
          .cute("{} tokens and counting! 🎯", result.tokens.size())
          .tokens_out(static_cast<std::int64_t>(result.tokens.size()))
          .emit();
    }
    const std::size_t pos = history.size() - 1;
    if (pos >= context) {
      result.stop_reason = StopReason::context_full;
      break;
    }
    logits = state_.forward(next, pos);
  }
  if (result.stop_reason != StopReason::stop_sequence &&
      result.stop_reason != StopReason::cancelled) {
    bool ignored = false;
    std::string rest = stops.push(decoder.finish(), ignored) + stops.finish();
    if (!rest.empty()) {
      result.text += rest;
      if (hooks.on_token) hooks.on_token(-1, rest);
    }
  }
  result.generate_ms = elapsed_ms(generate_start);
  if (hooks.on_finished) hooks.on_finished();
  if (result.stop_reason == StopReason::cancelled) {
    narrate_cancelled(result);
    return result;
  }

  const double seconds = result.generate_ms / 1000.0;
  const double rate = seconds > 0 ? static_cast<double>(result.tokens.size()) / seconds : 0.0;
  n::info(n::actor::inference_engine, n::action::inference_complete)
      .human("Complete! {} tokens in {:.0f} ms ({:.1f} tokens/s, stop: {})", result.tokens.size(),
             result.generate_ms, rate, to_string(result.stop_reason))
      .cute("All done! {} tokens in {:.0f} ms 🎉", result.tokens.size(), result.generate_ms)
      .tokens_in(static_cast<std::int64_t>(result.prompt_tokens.size()))
      .tokens_out(static_cast<std::int64_t>(result.tokens.size()))
      .duration_ms(static_cast<std::int64_t>(result.generate_ms))
      .tokens_per_second(rate)
      .stop_reason(to_string(result.stop_reason))
      .emit();
  return result;
}

}  // namespace llorch::engine
