// The generation loop: prompt in, text out token by token, with the stop rules (max tokens, end of
// generation, stop strings, context full, cancellation) and narration of each step.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/forward.hpp"
#include "engine/sampler.hpp"
#include "engine/tokenizer.hpp"

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
  // split across tokens, or text that may be the start of a stop string). Return false to cancel.
  std::function<bool(TokenId id, std::string_view text)> on_token;
  // Runs once the last text has been delivered, before completion is narrated.
  std::function<void()> on_finished;
  // Polled before every forward step (prompt tokens included): true cancels within one step.
  const std::atomic<bool>* cancel = nullptr;
};

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
};

}  // namespace llorch::engine
