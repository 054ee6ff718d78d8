// `llorch generate`: the engine without HTTP — text on stdout as it is generated, narration on
// stderr, or one JSON object at the end with --json.
#include <fmt/format.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <utility>

#include "cli/commands.hpp"
#include "cli/model_loading.hpp"
#include "engine/generator.hpp"
#include "narration/setup.hpp"
#include "narration/text_safety.hpp"

namespace llorch::cli {
namespace {

struct GenerateOptions {
  ModelOptions model;
  std::string prompt;
  std::size_t max_new = 128;
  engine::SamplingParams sampling;
  std::optional<std::uint64_t> seed;
  std::size_t threads = 0;
  std::vector<std::string> stop;
  std::size_t progress = 0;
  bool json = false;
  bool quiet = false;
};

int run_generate(const GenerateOptions& o) {
  narration::install_narrator_on(STDERR_FILENO, {.component = "llorch-generate"},
                                 o.quiet ? narration::Level::warn : narration::Level::info);
  auto model = load_narrated(o.model);
  const std::size_t threads =
      o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  engine::Generator generator(model, threads);

  engine::GenerationRequest request;
  request.prompt = o.prompt;
  request.max_new_tokens = o.max_new;
  request.sampling = o.sampling;
  request.sampling.seed = o.seed.value_or(std::random_device{}());
  request.stop = o.stop;
  request.progress_every = o.progress;

  // The prompt is printed with the first generated text, so that the narration before it
  // (loading, tokenizing) stands on lines of its own when both streams share a terminal.
  bool started = false;
  // On a terminal the prompt and the model's text are shown made safe (no escape sequences, no
  // bidi overrides); piped, the model's bytes go out as they are.
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  const auto shown = [terminal](std::string_view text) {
    std::string s(text);
    if (terminal) narration::sanitize_keeping_lines(s);
    return s;
  };
  engine::GenerationHooks hooks;
  hooks.on_token = [&](engine::TokenId, std::string_view text, const engine::TokenLogprobs*) {
    if (!o.json) {
      fmt::print("{}{}", std::exchange(started, true) ? "" : shown(o.prompt), shown(text));
      std::fflush(stdout);
    }
    return true;
  };
  hooks.on_finished = [&] {
    if (!o.json) {
      fmt::print("{}\n", std::exchange(started, true) ? "" : shown(o.prompt));
      std::fflush(stdout);
    }
  };
  const engine::GenerationResult result = generator.generate(request, hooks);
  if (o.json) {
    const double gen_s = result.generate_ms / 1000.0;
    const nlohmann::ordered_json out{
        {"model", o.model.path},
        {"prompt", o.prompt},
        {"prompt_tokens", result.prompt_tokens},
        {"tokens", result.tokens},
        {"text", result.text},
        {"stop_reason", engine::to_string(result.stop_reason)},
        {"seed", request.sampling.seed},
        {"timings",
         {{"prompt_ms", result.prompt_ms},
          {"generate_ms", result.generate_ms},
          {"prompt_tokens_per_second",
           result.prompt_ms > 0
               ? static_cast<double>(result.prompt_tokens.size()) / (result.prompt_ms / 1000.0)
               : 0.0},
          {"tokens_per_second",
           gen_s > 0 ? static_cast<double>(result.tokens.size()) / gen_s : 0.0}}},
    };
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  }
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto* command = app.add_subcommand("generate", "Generate text from a prompt (no server)");
  auto o = std::make_shared<GenerateOptions>();
  add_model_options(*command, o->model);
  command->add_option("-p,--prompt", o->prompt, "Prompt text (default: start from BOS alone)");
  command->add_option("-n,--max-tokens", o->max_new, "Most new tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 24));
  command->add_option("--temp", o->sampling.temperature, "Temperature; 0 is greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 100.0f));
  command->add_option("--top-k", o->sampling.top_k, "Keep the K most likely tokens; 0 is off")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  command
      ->add_option("--top-p", o->sampling.top_p, "Nucleus: keep tokens up to this mass; 1 is off")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  command
      ->add_option("--min-p", o->sampling.min_p,
                   "Drop tokens below MIN_P times the top probability; 0 is off")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  command
      ->add_option("--repeat-penalty", o->sampling.repetition_penalty,
                   "Penalty for recent tokens; 1 is off")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 10.0f));
  command->add_option("--seed", o->seed, "Random seed (default: a fresh one, reported in --json)");
  command
      ->add_option("-t,--threads", o->threads,
                   "Threads for the matrix products (default: all cores)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  command->add_option("--stop", o->stop, "Stop before this text (repeatable)");
  command
      ->add_option("--progress", o->progress,
                   "Narrate \"Generated N tokens\" every N tokens (0: only before and after)")
      ->capture_default_str();
  command->add_flag("--json", o->json,
                    "Print one JSON object at the end instead of streaming text");
  command->add_flag("-q,--quiet", o->quiet, "Narrate warnings and errors only");
  return {command, [o] { return run_reporting_errors([&] { return run_generate(*o); }); }};
}

}  // namespace llorch::cli
