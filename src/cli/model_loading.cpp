#include "cli/model_loading.hpp"

#include <fmt/format.h>

#include <chrono>

#include "engine/model_error.hpp"
#include "narration/narrate.hpp"

namespace llorch::cli {

namespace n = llorch::narration;

void add_model_options(CLI::App& command, ModelOptions& options) {
  command.add_option("-m,--model", options.path, "Model file: GGUF, or a llama2.c checkpoint")
      ->required();
  command.add_option("--tokenizer", options.tokenizer,
                     "Tokenizer file for a llama2.c checkpoint (default: tok<vocab>.bin or "
                     "tokenizer.bin beside it)");
  command.add_option("--ctx", options.context, "Context length in tokens (default: the model's)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
}

std::shared_ptr<engine::Model> load_narrated(const ModelOptions& options) {
  n::info(n::actor::model_loader, n::action::model_load)
      .target(options.path)
      .human("Loading model {}", options.path)
      .cute("Fetching the brain from {} 🧠", options.path)
      .emit();
  const auto start = std::chrono::steady_clock::now();
  engine::LoadOptions load;
  if (options.context > 0) load.context_length = options.context;
  load.tokenizer_path = options.tokenizer;
  auto model = engine::load_model(options.path, load);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  const auto& c = model->config;
  n::info(n::actor::model_loader, n::action::model_load_complete)
      .target(options.path)
      .human("Loaded Llama model ({:.1f} MB, {} layers, dim {}, vocabulary {}) in {} ms",
             static_cast<double>(model->weight_bytes()) / 1e6, c.n_layers, c.dim, c.vocab_size, ms)
      .cute("Brain loaded: {} layers deep and ready to think! 🎓", c.n_layers)
      .memory_bytes(static_cast<std::int64_t>(model->weight_bytes()))
      .duration_ms(ms)
      .model_ref(options.path)
      .emit();
  return model;
}

int run_reporting_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const engine::ModelError& e) {
    fmt::print(stderr, "llorch: error: {}\n", e.what());
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "llorch: error: {}\n", e.what());
  } catch (const std::system_error& e) {
    fmt::print(stderr, "llorch: error: {}\n", e.what());
  }
  return 1;
}

}  // namespace llorch::cli
