#include "cli/model_loading.hpp"

#include <fmt/format.h>

#include "engine/model_error.hpp"
#include "engine/narrated_load.hpp"

namespace llorch::cli {

void add_model_options(CLI::App& command, ModelOptions& options) {
  command.add_option("-m,--model", options.path, "Model file: GGUF, or a llama2.c checkpoint")
      ->required();
  command.add_option("--tokenizer", options.tokenizer,
                     "Tokenizer file for a llama2.c checkpoint (default: tok<vocab>.bin or "
                     "tokenizer.bin beside it)");
  command.add_option("--ctx", options.context, "Context length in tokens (default: the model's)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
}

void add_threads_option(CLI::App& command, std::size_t& threads) {
  command.add_option("-t,--threads", threads, "Threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
}

std::shared_ptr<engine::Model> load_narrated(const ModelOptions& options) {
  engine::LoadOptions load;
  if (options.context > 0) load.context_length = options.context;
  load.tokenizer_path = options.tokenizer;
  return engine::load_model_narrated(options.path, load);
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
