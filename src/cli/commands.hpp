// The subcommands: each registers its options on the CLI11 app and returns the code main() exits
// with. A command runs only when the user named it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace llorch::cli {

struct Command {
  CLI::App* app;             // the registered subcommand
  std::function<int()> run;  // runs it; returns the process's exit code
};

// `llorch generate`: text from a prompt, on the command line.
Command add_generate_command(CLI::App& app);
// `llorch tokenize`: token ids of a text or file.
Command add_tokenize_command(CLI::App& app);
// `llorch logits`: the largest logits at every prompt position.
Command add_logits_command(CLI::App& app);
// `llorch perplexity`: llama-perplexity's measure on a text file.
Command add_perplexity_command(CLI::App& app);
// `llorch bench`: prompt and generation speed of a model.
Command add_bench_command(CLI::App& app);
// `llorch worker`: one model served over HTTP.
Command add_worker_command(CLI::App& app);
// `llorch pool-manager`: workers spawned, supervised and narrated.
Command add_pool_manager_command(CLI::App& app);
// `llorch orchestrator`: the user's API in front of pool managers.
Command add_orchestrator_command(CLI::App& app);
// `llorch serve`: orchestrator and pool manager in one process.
Command add_serve_command(CLI::App& app);
// `llorch run`: the user's screen — one request, its narration and its output.
Command add_run_command(CLI::App& app);
// `llorch model info`: what a model file holds; `llorch model synth`: a synthetic model.
Command add_model_command(CLI::App& app);
// Registers `synth` under `model`; the returned function runs it when it was parsed.
std::function<int()> add_model_synth_subcommand(CLI::App& model);

}  // namespace llorch::cli
