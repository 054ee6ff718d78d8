#include "engine/generator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <utility>

#include "narration/narrate.hpp"

namespace llorch::engine {
namespace {

namespace n = llorch::narration;

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

void narrate_cancelled(const GenerationResult& result) {
  n::info(n::actor::inference_engine, n::action::inference_cancelled)
      .human("Cancelled after {} tokens", result.tokens.size())
      .cute("Stopped on request after {} tokens 🛑", result.tokens.size())
      .tokens_out(static_cast<std::int64_t>(result.tokens.size()))
      .stop_reason(to_string(StopReason::cancelled))
      .emit();
}

}  // namespace

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

Sequence::Sequence(std::shared_ptr<const Model> model, const Tokenizer& tokenizer,
                   GenerationRequest request, GenerationHooks hooks, KvCache& cache)
    : model_(std::move(model)),
      tokenizer_(tokenizer),
      request_(std::move(request)),
      hooks_(std::move(hooks)),
      cache_(&cache),
      sampler_(request_.sampling),
      decoder_(tokenizer_, request_.prompt.empty() && tokenizer_.adds_space_prefix()),
      stops_(std::make_unique<StopMatcher>(request_.stop)) {}

Sequence::~Sequence() = default;

namespace {

// Binds a sequence's request context, when it has one, for the length of one member call: a loop
// thread serving many sequences narrates each one's events into its own stream.
class ContextScope {
 public:
  explicit ContextScope(const std::optional<narration::RequestContext>& context) {
    if (context) scope_.emplace(*context);
  }

 private:
  std::optional<narration::RequestScope> scope_;
};

}  // namespace

void Sequence::begin() {
  const ContextScope scope(hooks_.context);
  const std::size_t context = model_->config.context_length;
  result_.prompt_tokens = request_.parse_special
                              ? encode_with_special_tokens(tokenizer_, request_.prompt, true)
                              : tokenizer_.encode(request_.prompt, true);
  if (result_.prompt_tokens.empty()) {
    // A vocabulary without BOS and an empty prompt: nothing to condition on.
    throw std::invalid_argument("the prompt is empty and the model has no BOS token to start from");
  }
  if (result_.prompt_tokens.size() >= context) {
    throw std::invalid_argument("the prompt has " + std::to_string(result_.prompt_tokens.size()) +
                                " tokens; the context holds " + std::to_string(context));
  }
  n::info(n::actor::tokenizer, n::action::tokenize)
      .human("Tokenized prompt ({} tokens)", result_.prompt_tokens.size())
      .cute("Chopped the prompt into {} tasty pieces! 🍰", result_.prompt_tokens.size())
      .tokens_in(static_cast<std::int64_t>(result_.prompt_tokens.size()))
      .emit();
  history_ = result_.prompt_tokens;
  prompt_start_ = last_progress_ = std::chrono::steady_clock::now();
  phase_ = Phase::prompt;
}

void Sequence::start_prompt(KvCache& cache, std::size_t reused) {
  const ContextScope scope(hooks_.context);
  cache_ = &cache;
  reused_ = fed_ = std::min(reused, history_.size() - 1);
  const std::size_t context = model_->config.context_length;
  if (preempted_) {
    preempted_ = false;
    n::info(n::actor::inference_engine, n::action::sequence_resumed)
        .target("kv-cache")
        .human("Resumed: recomputing {} tokens ({} still cached)", history_.size() - reused_,
               reused_)
        .cute("Back at it! Re-reading {} tokens to find my place 🔖", history_.size() - reused_)
        .tokens_in(static_cast<std::int64_t>(history_.size()))
        .emit();
  } else if (reused_ > 0) {
    n::info(n::actor::inference_engine, n::action::prefix_reused)
        .target("kv-cache")
        .human("Reused {} cached prompt tokens of {}", reused_, history_.size())
        .cute("Already read {} of these tokens before: skipping ahead ⏩", reused_)
        .tokens_in(static_cast<std::int64_t>(reused_))
        .emit();
  } else {
    n::info(n::actor::inference_engine, n::action::cache_reset)
        .target("kv-cache")
        .human("Reset the KV cache ({} positions)", context)
        .cute("Fresh notebook, {} empty pages 📓", context)
        .emit();
  }
}

void Sequence::preempt() {
  if (phase_ == Phase::done || phase_ == Phase::start) return;
  const ContextScope scope(hooks_.context);
  phase_ = Phase::prompt;
  fed_ = pending_ = reused_ = 0;
  preempted_ = true;
  last_progress_ = std::chrono::steady_clock::now();
  n::warn(n::actor::inference_engine, n::action::sequence_preempted)
      .target("kv-cache")
      .human("Preempted after {} tokens: the KV cache is full; will resume when blocks free up",
             result_.tokens.size())
      .cute("Stepping aside for a moment so others can finish ⏸️")
      .tokens_out(static_cast<std::int64_t>(result_.tokens.size()))
      .emit();
}

void Sequence::stop(StopReason reason) {
  if (phase_ == Phase::done) return;
  const ContextScope scope(hooks_.context);
  finish(reason);
}

bool Sequence::cancel_requested() const {
  return hooks_.cancel != nullptr && hooks_.cancel->load(std::memory_order_relaxed);
}

std::span<const TokenId> Sequence::next_tokens(std::size_t budget) {
  if (phase_ == Phase::done || phase_ == Phase::start || budget == 0) return {};
  const ContextScope scope(hooks_.context);
  if (cancel_requested()) {
    finish(StopReason::cancelled);
    return {};
  }
  if (phase_ == Phase::prompt) {
    pending_ = std::min(budget, history_.size() - fed_);
    return std::span<const TokenId>(history_).subspan(fed_, pending_);
  }
  pending_ = 1;
  return std::span<const TokenId>(history_).last(1);
}

std::size_t Sequence::position() const noexcept {
  return phase_ == Phase::prompt ? fed_ : history_.size() - 1;
}

bool Sequence::advance(std::span<const float> logits) {
  const ContextScope scope(hooks_.context);
  if (phase_ == Phase::prompt) {
    fed_ += pending_;
    const std::size_t prompt_size = history_.size();
    if (fed_ < prompt_size) {
      if (std::chrono::steady_clock::now() - last_progress_ >= std::chrono::seconds(1)) {
        last_progress_ = std::chrono::steady_clock::now();
        const double fraction = static_cast<double>(fed_) / static_cast<double>(prompt_size);
        n::info(n::actor::inference_engine, n::action::prompt_progress)
            .human("Processing prompt: {} of {} tokens ({:.0f}%)", fed_, prompt_size,
                   fraction * 100)
            .cute("Reading the prompt… {:.0f}% through! 📖", fraction * 100)
            .tokens_in(static_cast<std::int64_t>(fed_))
            .progress(fraction)
            .emit();
      }
      return false;
    }
    phase_ = Phase::generate;
    if (!started_) {
      started_ = true;
      result_.prompt_ms = elapsed_ms(prompt_start_);
      n::info(n::actor::inference_engine, n::action::inference_start)
          .human("Starting inference (up to {} tokens)", request_.max_new_tokens)
          .cute("Off we go! Up to {} tokens 🚀", request_.max_new_tokens)
          .tokens_in(static_cast<std::int64_t>(prompt_size))
          .emit();
      generate_start_ = std::chrono::steady_clock::now();
    }
  }
  sample(logits);
  return phase_ == Phase::done;
}

void Sequence::sample(std::span<const float> logits) {
  const Vocabulary& vocab = model_->vocab;
  if (result_.tokens.size() >= request_.max_new_tokens) return finish(StopReason::max_tokens);
  scratch_.assign(logits.begin(), logits.end());
  if (request_.ignore_eos) {
    for (TokenId id : {vocab.eos, vocab.eot, vocab.bos}) {
      if (id >= 0) scratch_[static_cast<std::size_t>(id)] = -std::numeric_limits<float>::infinity();
    }
  }
  const TokenId next = sampler_.sample(scratch_, history_);
  if (vocab.is_end_of_generation(next) || next == vocab.bos) {
    return finish(StopReason::eos);  // a model that emits BOS starts a new document
  }
  if (result_.tokens.empty()) result_.first_token_ms = elapsed_ms(prompt_start_);
  result_.tokens.push_back(next);
  history_.push_back(next);
  bool stopped = false;
  const std::string text = stops_->push(decoder_.push(next), stopped);
  result_.text += text;
  bool refused = false;
  if (hooks_.on_token) {
    std::optional<TokenLogprobs> logprobs;
    if (request_.logprobs >= 0) logprobs = logprobs_of(logits, next);
    if (!hooks_.on_token(next, text, logprobs ? &*logprobs : nullptr)) refused = true;
  }
  if (stopped) return finish(StopReason::stop_sequence);
  if (refused || cancel_requested()) return finish(StopReason::cancelled);
  if (request_.progress_every > 0 && result_.tokens.size() % request_.progress_every == 0) {
    n::debug(n::actor::inference_engine, n::action::token_generate)
        .human("Generated {} tokens", result_.tokens.size())
        .cute("{} tokens and counting! 🎯", result_.tokens.size())
        .tokens_out(static_cast<std::int64_t>(result_.tokens.size()))
        .emit();
  }
  if (result_.tokens.size() >= request_.max_new_tokens) return finish(StopReason::max_tokens);
  if (history_.size() - 1 >= model_->config.context_length) return finish(StopReason::context_full);
}

TokenLogprobs Sequence::logprobs_of(std::span<const float> logits, TokenId chosen) const {
  // log p_i = x_i - log Σ exp x_j, with the maximum taken out for range.
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (const float x : logits) sum += std::exp(static_cast<double>(x - max));
  const float log_total = max + static_cast<float>(std::log(sum));
  TokenLogprobs out;
  out.piece = tokenizer_.piece_bytes(chosen);
  out.logprob = logits[static_cast<std::size_t>(chosen)] - log_total;
  const std::size_t n =
      std::min<std::size_t>(static_cast<std::size_t>(request_.logprobs), logits.size());
  std::vector<TokenId> ids(logits.size());
  std::iota(ids.begin(), ids.end(), TokenId{0});
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
                    [&](TokenId a, TokenId b) {
                      const float la = logits[static_cast<std::size_t>(a)];
                      const float lb = logits[static_cast<std::size_t>(b)];
                      return la > lb || (la == lb && a < b);
                    });
  for (std::size_t i = 0; i < n; ++i) {
    out.top.push_back({ids[i], tokenizer_.piece_bytes(ids[i]),
                       logits[static_cast<std::size_t>(ids[i])] - log_total});
  }
  return out;
}

void Sequence::finish(StopReason reason) {
  const bool in_prompt = !started_;
  phase_ = Phase::done;
  result_.stop_reason = reason;
  if (in_prompt) {
    // Cancelled before the first token: nothing was shown, nothing to flush.
    result_.prompt_ms = elapsed_ms(prompt_start_);
    narrate_cancelled(result_);
    return;
  }
  if (reason != StopReason::stop_sequence && reason != StopReason::cancelled) {
    bool ignored = false;
    std::string rest = stops_->push(decoder_.finish(), ignored) + stops_->finish();
    if (!rest.empty()) {
      result_.text += rest;
      if (hooks_.on_token) hooks_.on_token(-1, rest, nullptr);
    }
  }
  result_.generate_ms = elapsed_ms(generate_start_);
  if (hooks_.on_finished) hooks_.on_finished();
  if (reason == StopReason::cancelled) return narrate_cancelled(result_);
  const double seconds = result_.generate_ms / 1000.0;
  const double rate = seconds > 0 ? static_cast<double>(result_.tokens.size()) / seconds : 0.0;
  n::info(n::actor::inference_engine, n::action::inference_complete)
      .human("Complete! {} tokens in {:.0f} ms ({:.1f} tokens/s, stop: {})", result_.tokens.size(),
             result_.generate_ms, rate, to_string(reason))
      .cute("All done! {} tokens in {:.0f} ms 🎉", result_.tokens.size(), result_.generate_ms)
      .tokens_in(static_cast<std::int64_t>(result_.prompt_tokens.size()))
      .tokens_out(static_cast<std::int64_t>(result_.tokens.size()))
      .duration_ms(static_cast<std::int64_t>(result_.generate_ms))
      .tokens_per_second(rate)
      .stop_reason(to_string(reason))
      .emit();
}

Generator::Generator(std::shared_ptr<const Model> model, std::size_t threads)
    : model_(model),
      tokenizer_(Tokenizer::create(model->vocab)),
      state_(model, threads),
      cache_(model->config) {}

GenerationResult Generator::generate(const GenerationRequest& request,
                                     const GenerationHooks& hooks) {
  // The prompt in batches: each weight matrix is read once per batch, not once per token; a
  // batch is small enough that cancellation and progress are still noticed within a fraction of
  // a second. Then one token a step.
  constexpr std::size_t kPromptBatch = 64;
  Sequence sequence(model_, *tokenizer_, request, hooks, cache_);
  sequence.begin();
  cache_.clear();
  sequence.start_prompt(cache_, 0);
  const std::size_t vocab = model_->config.vocab_size;
  while (!sequence.done()) {
    const auto tokens = sequence.next_tokens(kPromptBatch);
    if (tokens.empty()) break;
    const SequenceTokens part{&cache_, tokens, sequence.position()};
    const auto logits = state_.forward_sequences(std::span(&part, 1));
    sequence.advance(logits.first(vocab));
  }
  return sequence.take_result();
}

std::size_t run_batch_step(ModelState& state, std::span<Sequence* const> sequences,
                           std::size_t token_budget) {
  std::vector<SequenceTokens> parts;
  std::vector<Sequence*> fed;
  std::size_t used = 0;
  // Generating sequences first, one token each; then prompts in what the budget leaves.
  for (const bool prompts : {false, true}) {
    for (Sequence* s : sequences) {
      if (s->done() || s->in_prompt() != prompts) continue;
      const std::size_t budget = prompts ? token_budget - std::min(used, token_budget) : 1;
      const std::size_t pos = s->position();
      const auto tokens = s->next_tokens(budget);
      if (tokens.empty()) continue;
      parts.push_back({&s->cache(), tokens, pos});
      fed.push_back(s);
      used += tokens.size();
    }
  }
  if (parts.empty()) return 0;
  const auto logits = state.forward_sequences(parts);
  const std::size_t vocab = state.model().config.vocab_size;
  for (std::size_t p = 0; p < fed.size(); ++p) fed[p]->advance(logits.subspan(p * vocab, vocab));
  return used;
}

}  // namespace llorch::engine
