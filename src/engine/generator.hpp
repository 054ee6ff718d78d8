// The generation loop: prompt in, text out token by token, with the stop rules (max tokens, end of
// generation, stop strings, context full, cancellation) and narration of each step.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/forward.hpp"
#include "engine/sampler.hpp"
#include "engine/tokenizer.hpp"
#include "narration/context.hpp"

namespace llorch::engine {

enum class StopReason { max_tokens, eos, stop_sequence, context_full, cancelled };
std::string_view to_string(StopReason reason) noexcept;  // "MAX_TOKENS", "EOS", …

struct GenerationRequest {
  std::string prompt;  // "" starts from BOS alone
  std::size_t max_new_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;  // generation ends before the first occurrence of any of these
  bool ignore_eos = false;        // never sample end-of-generation tokens (benchmarks, long tests)
  std::size_t progress_every = 10;  // narrate "Generated N tokens" every N (0: never)
  bool parse_special = false;  // the prompt spells special tokens (it came from a chat template)
  int logprobs = -1;  // ≥ 0: each token's log-probability and that many likeliest alternatives
};

// A generated token's log-probability under the model (its logits at temperature 1, before any
// sampling rule), and the likeliest tokens at that step with theirs, likeliest first.
struct TokenLogprobs {
  struct Alternative {
    TokenId id;
    std::string piece;  // the token's bytes (possibly part of a UTF-8 character)
    float logprob;
  };
  std::string piece;  // the chosen token's bytes
  float logprob = 0;
  std::vector<Alternative> top;
};

struct GenerationResult {
  std::vector<TokenId> prompt_tokens;  // BOS included
  std::vector<TokenId> tokens;         // generated ids (the end-of-generation token excluded)
  std::string text;                    // generated text, stop string excluded
  StopReason stop_reason = StopReason::max_tokens;
  double prompt_ms = 0;       // prompt processing
  double generate_ms = 0;     // sampling and decoding of the new tokens
  double first_token_ms = 0;  // from the start to the first generated token
};

// How the caller follows and steers one generation. Every member is optional.
struct GenerationHooks {
  // Each generated token with the text that became final with it (possibly empty: a character
  // split across tokens, or text that may be the start of a stop string), and its
  // log-probabilities when the request asked for them (else null; null too for the final flush,
  // id -1). Return false to cancel.
  std::function<bool(TokenId id, std::string_view text, const TokenLogprobs* logprobs)> on_token;
  // Runs once the last text has been delivered, before completion is narrated.
  std::function<void()> on_finished;
  // Polled before every forward step (prompt tokens included): true cancels within one step.
  const std::atomic<bool>* cancel = nullptr;
  // The request this generation narrates for, when its steps run on a thread that serves many
  // (the worker's engine loop): each step binds it. Unset: the caller's own scope, if any.
  std::optional<narration::RequestContext> context;
};

class StopMatcher;

// One generation as steps, so that one engine loop can run many at once: begin() tokenizes and
// narrates; then, over and over, next_tokens() says what to feed the model (a chunk of the
// prompt, or the last generated token) and advance() takes the logits of the last of them —
// sampling, stop rules, delivery through the hooks and narration, as generate() always did. Every
// narration goes to the caller's RequestScope at the time of the call. Not thread-safe.
class Sequence {
 public:
  Sequence(std::shared_ptr<const Model> model, const Tokenizer& tokenizer,
           GenerationRequest request, GenerationHooks hooks, KvCache& cache);
  ~Sequence();
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  // Tokenizes; throws std::invalid_argument for a prompt that does not fit the context.
  void begin();
  // The tokens the cache must hold before the next sample: the prompt, and after a preemption
  // the tokens generated so far too.
  std::span<const TokenId> tokens() const noexcept { return history_; }
  // After begin() or preempt(): computes into `cache`, whose first `reused` positions already
  // hold tokens() (a cached prefix; less than tokens().size(): the last token's logits are
  // needed), and narrates the reuse or the fresh start.
  void start_prompt(KvCache& cache, std::size_t reused);
  // Gives up the cache (the scheduler needs its blocks): the sequence waits, and when started
  // again recomputes its tokens and goes on where it was, as if nothing had happened.
  void preempt();
  // Ends the sequence now with `reason` (a cancel seen while waiting, a cache that cannot grow).
  void stop(StopReason reason);
  // Whether its cancel flag is set.
  bool cancel_requested() const;
  // What to feed next: up to `budget` tokens of the prompt (or of the recomputation after a
  // preemption), or the last generated token; empty once done (a cancel seen here ends it).
  std::span<const TokenId> next_tokens(std::size_t budget);
  // The position of next_tokens()[0].
  std::size_t position() const noexcept;
  // The logits after the last token next_tokens() gave. True once the sequence is done.
  bool advance(std::span<const float> logits);

  bool done() const noexcept { return phase_ == Phase::done; }
  bool in_prompt() const noexcept { return phase_ == Phase::prompt; }
  KvCache& cache() noexcept { return *cache_; }
  std::size_t reused() const noexcept { return reused_; }
  const GenerationResult& result() const noexcept { return result_; }
  GenerationResult take_result() { return std::move(result_); }

 private:
  enum class Phase { start, prompt, generate, done };
  void sample(std::span<const float> logits);
  // The request's logprobs for `chosen` at a step with these logits.
  TokenLogprobs logprobs_of(std::span<const float> logits, TokenId chosen) const;
  void finish(StopReason reason);

  std::shared_ptr<const Model> model_;
  const Tokenizer& tokenizer_;
  GenerationRequest request_;
  GenerationHooks hooks_;
  KvCache* cache_;
  Sampler sampler_;
  StreamDecoder decoder_;
  std::unique_ptr<StopMatcher> stops_;
  GenerationResult result_;
  std::vector<TokenId> history_;  // prompt and generated tokens
  std::vector<float> scratch_;
  Phase phase_ = Phase::start;
  std::size_t fed_ = 0;      // tokens() through the model (or found in the cache)
  std::size_t reused_ = 0;   // tokens() found in the cache
  bool started_ = false;     // inference started (the prompt was read once)
  bool preempted_ = false;   // the next start_prompt() resumes
  std::size_t pending_ = 0;  // tokens given by next_tokens(), awaiting advance()
  std::chrono::steady_clock::time_point prompt_start_{}, last_progress_{}, generate_start_{};
};

// One step of continuous batching: every sequence that is not done feeds its next tokens through
// one forward pass — generating sequences their one token first, then prompt chunks within what
// `token_budget` leaves (a long prompt never stalls the others) — and takes its logits. Returns
// how many tokens ran (0: nothing to do).
std::size_t run_batch_step(ModelState& state, std::span<Sequence* const> sequences,
                           std::size_t token_budget);

// One model, one sequence at a time. Not thread-safe.
class Generator {
 public:
  Generator(std::shared_ptr<const Model> model, std::size_t threads);

  // Narrates tokenization, cache reset, prompt progress (at least every second), inference start,
  // token progress and completion — inside the caller's RequestScope, if any. Throws
  // std::invalid_argument for a prompt that does not fit the context.
  GenerationResult generate(const GenerationRequest& request, const GenerationHooks& hooks = {});

  const Tokenizer& tokenizer() const noexcept { return *tokenizer_; }
  ModelState& state() noexcept { return state_; }

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ModelState state_;
  KvCache cache_;
};

}  // namespace llorch::engine
