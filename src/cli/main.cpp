// Entry point of the single llorch binary: parses the command line and runs one subcommand.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <vector>

#include "cli/commands.hpp"
#include "llorch/version.hpp"

// A command line that cannot be parsed: unknown option, missing or invalid value.
constexpr int kExitUsage = 2;

int main(int argc, char** argv) {
  CLI::App app{"llorch: run large language models on machines you own, and narrate every step."};
  app.set_version_flag("-V,--version", std::string("llorch ") + llorch::kVersion);
  app.require_subcommand(0, 1);
  app.fallthrough(false);

  const std::vector<llorch::cli::Command> commands{
      llorch::cli::add_generate_command(app),     llorch::cli::add_tokenize_command(app),
      llorch::cli::add_model_command(app),        llorch::cli::add_bench_command(app),
      llorch::cli::add_worker_command(app),       llorch::cli::add_pool_manager_command(app),
      llorch::cli::add_orchestrator_command(app), llorch::cli::add_serve_command(app),
      llorch::cli::add_run_command(app),          llorch::cli::add_logits_command(app),
      llorch::cli::add_perplexity_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage mistake exits 2, as most Unix tools do (CLI11's
    // own codes, 100 and up, mean nothing to a shell script).
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  fmt::print("{}", app.help());
  return 0;
}
