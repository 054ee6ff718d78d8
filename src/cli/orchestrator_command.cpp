// `llorch orchestrator` and `llorch serve`: the user's API, alone in front of pool managers, or
// together with a pool manager in one process.
#include <fmt/format.h>
#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <cstdlib>

#include "cli/commands.hpp"
#include "cli/local_stack.hpp"
#include "narration/narrate.hpp"
#include "narration/setup.hpp"
#include "net/http_client.hpp"
#include "orchestrator/orchestrator.hpp"
#include "worker/worker_config.hpp"

namespace llorch::cli {

namespace {

// --api-token-env VAR: the token is read from that variable, never from the command line (which
// every user of the machine can read).
bool read_api_token(const std::string& variable, std::string& token) {
  if (variable.empty()) return true;
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr || *value == '\0') {
    fmt::print(stderr,
               "llorch: error: --api-token-env names {}, but {} is not set; export it (e.g. "
               "export {}=$(openssl rand -hex 16)) or leave the flag out\n",
               variable, variable, variable);
    return false;
  }
  token = value;
  return true;
}

std::string pool_token() {
  const char* token = std::getenv("LLORCH_ORCHESTRATOR_TOKEN");
  return token != nullptr ? token : "";
}

}  // namespace

Command add_orchestrator_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "orchestrator", "The user's API: tasks, OpenAI-compatible endpoints, queue, relay");
  struct Options {
    orchestrator::OrchestratorConfig config;
    std::string token_env;
  };
  auto o = std::make_shared<Options>();
  command->add_option("--port", o->config.port, "Port of the API (0: any free port)")->required();
  command->add_option("--host", o->config.host, "Address to bind")->capture_default_str();
  command->add_option("--pool", o->config.pool_urls,
                      "A pool manager to use (http://host:port); repeatable. Pool managers "
                      "started with --orchestrator register themselves instead");
  command
      ->add_option("--queue-size", o->config.scheduler.queue_size,
                   "Tasks that may wait for a slot; more get 429")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command->add_option("--api-token-env", o->token_env,
                      "Environment variable holding the bearer token clients must send");
  return {command, [o] {
            for (const auto& url : o->config.pool_urls) {
              try {
                net::parse_url(url);
              } catch (const std::exception& e) {
                fmt::print(stderr, "llorch: error: --pool {}: {}\n", url, e.what());
                return 1;
              }
            }
            if (!read_api_token(o->token_env, o->config.service.api_token)) return 1;
            o->config.service.pool_token = pool_token();
            narration::install_stdout_narrator({.component = "llorch-orchestrator"});
            return orchestrator::run_orchestrator(o->config);
          }};
}

Command add_serve_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "serve", "Orchestrator and pool manager in one process, workers as children: one machine");
  struct Options {
    LocalStackOptions stack;
    std::string token_env;
  };
  auto o = std::make_shared<Options>();
  command->add_option("-m,--model", o->stack.model, "Model file (GGUF or llama2.c)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--workers", o->stack.workers, "Worker processes")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command->add_option("--port", o->stack.port, "Port of the API")->capture_default_str();
  command->add_option("--host", o->stack.host, "Address to bind")->capture_default_str();
  command->add_option("-t,--threads", o->stack.threads, "Threads per worker slot")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  command->add_option("--slots", o->stack.slots, "Jobs each worker runs at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command->add_option("--ctx", o->stack.context_length, "Context length (default: the model's)");
  command->add_option("--queue-size", o->stack.queue_size, "Tasks that may wait for a slot")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command->add_option("--api-token-env", o->token_env,
                      "Environment variable holding the bearer token clients must send");
  return {command, [o] {
            if (!read_api_token(o->token_env, o->stack.api_token)) return 1;
            narration::install_stdout_narrator({.component = "llorch-serve"});
            namespace n = llorch::narration;
            boost::asio::io_context io;
            LocalStack stack(io, o->stack);
            if (!stack.start()) return static_cast<int>(worker::kExitBindFailed);
            boost::asio::signal_set signals(io, SIGTERM, SIGINT);
            signals.async_wait([&](const boost::system::error_code& ec, int signal) {
              if (ec) return;
              n::info(n::actor::orchestrator, n::action::server_shutdown)
                  .target(stack.url())
                  .human("Received {}: stopping the orchestrator, then the workers",
                         signal == SIGTERM ? "SIGTERM" : "SIGINT")
                  .emit();
              stack.shutdown([&io] { io.stop(); });
            });
            io.run();
            n::info(n::actor::orchestrator, n::action::server_shutdown)
                .target(stack.url())
                .human("llorch serve stopped (exit code 0)")
                .exit_code(0)
                .emit();
            return 0;
          }};
}

}  // namespace llorch::cli
