// `llorch perplexity`: llama-perplexity's measure on a text file, so that a user can judge a
// quantization of their model. The text is cut into chunks of --ctx tokens (default 512) (each
// starting with BOS when the model adds one); each chunk runs as one batch, and the second half of
// its positions is scored (every scored token has at least ctx/2 tokens of context), as llama.cpp
// does.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/model_loading.hpp"
#include "engine/forward.hpp"
#include "engine/tokenizer.hpp"
#include "narration/setup.hpp"

namespace llorch::cli {
namespace {

struct PerplexityOptions {
  ModelOptions model;
  std::string file;
  std::size_t chunks = 0;  // 0: all
  std::size_t threads = 1;
};

int run_perplexity(const PerplexityOptions& o) {
  narration::install_narrator_on(STDERR_FILENO, {.component = "llorch-perplexity"},
                                 narration::Level::warn);
  std::ifstream in(o.file, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + o.file + ": check the path");
  std::ostringstream text;
  text << in.rdbuf();
  // --ctx is the chunk size (llama-perplexity's -c); 512 unless given.
  ModelOptions model_options = o.model;
  if (model_options.context == 0) model_options.context = 512;
  const std::size_t ctx = model_options.context;
  if (ctx < 2) throw std::invalid_argument("--ctx must be at least 2 tokens");
  const auto model = load_narrated(model_options);
  const auto tokenizer = engine::Tokenizer::create(model->vocab);
  const auto tokens = tokenizer->encode(text.str(), false);
  std::size_t chunks = tokens.size() / ctx;
  if (o.chunks > 0) chunks = std::min(chunks, o.chunks);
  if (chunks == 0) {
    throw std::invalid_argument(
        fmt::format("{} has {} tokens, fewer than one chunk of --ctx {}; give a longer text or a "
                    "smaller --ctx",
                    o.file, tokens.size(), ctx));
  }
  fmt::print(stderr, "perplexity: {} tokens, {} chunks of {}\n", tokens.size(), chunks, ctx);
  engine::ModelState state(model, o.threads);
  const std::size_t vocab = model->config.vocab_size;
  const std::size_t first = ctx / 2;
  double nll = 0.0, nll2 = 0.0;
  std::size_t count = 0;
  for (std::size_t c = 0; c < chunks; ++c) {
    std::vector<engine::TokenId> chunk(tokens.begin() + static_cast<std::ptrdiff_t>(c * ctx),
                                       tokens.begin() + static_cast<std::ptrdiff_t>((c + 1) * ctx));
    if (model->vocab.add_bos && model->vocab.bos >= 0) chunk[0] = model->vocab.bos;
    state.reset();
    const auto logits = state.forward_batch_all(chunk, 0);
    for (std::size_t j = first; j + 1 < ctx; ++j) {
      const float* row = logits.data() + j * vocab;
      float max = row[0];
      for (std::size_t v = 1; v < vocab; ++v) max = std::max(max, row[v]);
      double sum = 0.0;
      for (std::size_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v] - max));
      const auto next = static_cast<std::size_t>(chunk[j + 1]);
      const double loss = std::log(sum) - static_cast<double>(row[next] - max);
      nll += loss;
      nll2 += loss * loss;
      ++count;
    }
    fmt::print("[{}]{:.4f},", c + 1, std::exp(nll / static_cast<double>(count)));
    std::fflush(stdout);
  }
  const double mean = nll / static_cast<double>(count);
  const double variance = nll2 / static_cast<double>(count) - mean * mean;
  const double error =
      count > 1 ? std::sqrt(std::max(variance, 0.0) / static_cast<double>(count - 1)) : 0.0;
  const double ppl = std::exp(mean);
  fmt::print("\nFinal estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, error * ppl);
  return 0;
}

}  // namespace

Command add_perplexity_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "perplexity", "Perplexity of a model on a text file (llama-perplexity's measure)");
  auto o = std::make_shared<PerplexityOptions>();
  add_model_options(*command, o->model);
  command->add_option("-f,--file", o->file, "The text to measure on")->required();
  command->add_option("--chunks", o->chunks, "Chunks to measure at most (0: all)")
      ->capture_default_str();
  add_threads_option(*command, o->threads);
  return {command, [o] { return run_reporting_errors([&] { return run_perplexity(*o); }); }};
}

}  // namespace llorch::cli
