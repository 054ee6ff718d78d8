// `llorch logits`: for every position of a prompt, the K largest logits — what the model predicts
// after each token — so that anyone can compare llorch with another engine (llama.cpp's
// reference files have the same shape).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/commands.hpp"
#include "cli/model_loading.hpp"
#include "engine/forward.hpp"
#include "engine/tokenizer.hpp"
#include "narration/setup.hpp"
#include "narration/text_safety.hpp"

namespace llorch::cli {
namespace {

struct LogitsOptions {
  ModelOptions model;
  std::string prompt;
  std::size_t top = 10;
  std::size_t threads = 1;
  bool json = false;
};

// The `k` largest of `logits`, largest first (ties: the lower id first).
std::vector<std::pair<engine::TokenId, float>> top_k(std::span<const float> logits, std::size_t k) {
  std::vector<engine::TokenId> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  k = std::min(k, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](engine::TokenId a, engine::TokenId b) {
                      const float la = logits[static_cast<std::size_t>(a)];
                      const float lb = logits[static_cast<std::size_t>(b)];
                      return la > lb || (la == lb && a < b);
                    });
  std::vector<std::pair<engine::TokenId, float>> out;
  for (std::size_t i = 0; i < k; ++i)
    out.emplace_back(ids[i], logits[static_cast<std::size_t>(ids[i])]);
  return out;
}

int run_logits(const LogitsOptions& o) {
  narration::install_narrator_on(STDERR_FILENO, {.component = "llorch-logits"},
                                 narration::Level::warn);
  const auto model = load_narrated(o.model);
  const auto tokenizer = engine::Tokenizer::create(model->vocab);
  const auto ids = tokenizer->encode(o.prompt, model->vocab.add_bos);
  if (ids.empty()) throw std::invalid_argument("the prompt has no tokens; give some text with -p");
  if (ids.size() > model->config.context_length) {
    throw std::invalid_argument(fmt::format(
        "the prompt has {} tokens, more than the context of {}; shorten it or raise --ctx",
        ids.size(), model->config.context_length));
  }
  engine::ModelState state(model, o.threads);
  const auto all = state.forward_batch_all(ids, 0);
  const std::size_t vocab = model->config.vocab_size;
  if (o.json) {
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (std::size_t p = 0; p < ids.size(); ++p) {
      nlohmann::ordered_json row = nlohmann::ordered_json::array();
      for (const auto& [id, logit] : top_k(all.subspan(p * vocab, vocab), o.top))
        row.push_back({id, logit});
      top.push_back(std::move(row));
    }
    const nlohmann::ordered_json out{{"prompt_ids", ids}, {"top", top}};
    fmt::print("{}\n", out.dump());
    return 0;
  }
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  for (std::size_t p = 0; p < ids.size(); ++p) {
    std::string piece = tokenizer->piece_bytes(ids[p]);
    if (terminal) narration::sanitize(piece);
    std::string row;
    for (const auto& [id, logit] : top_k(all.subspan(p * vocab, vocab), o.top))
      row += fmt::format(" [{}, {:.4f}]", id, logit);
    fmt::print("{:>4} {:>7} {:<16}{}\n", p, ids[p], fmt::format("{:?}", piece), row);
  }
  return 0;
}

}  // namespace

Command add_logits_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "logits", "Print, for every prompt position, the largest logits (to compare engines)");
  auto o = std::make_shared<LogitsOptions>();
  add_model_options(*command, o->model);
  command->add_option("-p,--prompt", o->prompt, "The prompt")->required();
  command->add_option("--top", o->top, "Logits shown per position")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  add_threads_option(*command, o->threads);
  command->add_flag("--json", o->json,
                    "One JSON object: {\"prompt_ids\": [...], \"top\": [[[id, logit], ...], ...]}");
  return {command, [o] { return run_reporting_errors([&] { return run_logits(*o); }); }};
}

}  // namespace llorch::cli
