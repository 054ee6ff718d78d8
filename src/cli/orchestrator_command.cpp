// `llorch orchestrator` and `llorch serve`: the user's API, alone in front of pool managers, or
// together with a pool manager in one process.
#include <fmt/format.h>
#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <cstdlib>

#include "cli/commands.hpp"
#include "cli/local_stack.hpp"
#include "cli/state_flags.hpp"
#include "narration/narrate.hpp"
#include "narration/setup.hpp"
#include "net/http_client.hpp"
#include "orchestrator/orchestrator.hpp"
#include "worker/worker_config.hpp"

namespace llorch::cli {

namespace {

// A secret named by a flag is read from that environment variable, never from the command line
// (which every user of the machine can read).
bool read_secret(const char* flag, const std::string& variable, std::string& secret) {
  if (variable.empty()) return true;
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr || *value == '\0') {
    fmt::print(stderr,
               "llorch: error: {} names {}, but {} is not set; export it (e.g. "
               "export {}=$(openssl rand -hex 16)) or leave the flag out\n",
               flag, variable, variable, variable);
    return false;
  }
  secret = value;
  return true;
}

std::string from_environment(const char* variable) {
  const char* value = std::getenv(variable);
  return value != nullptr ? value : "";
}

// Who may use the API: --api-token-env and --api-keys-file (see orchestrator/api_keys.hpp).
bool read_access(const std::string& token_env, const std::string& keys_file,
                 const std::string& metrics_env, orchestrator::ServiceConfig& service) {
  std::string token;
  if (!read_secret("--api-token-env", token_env, token)) return false;
  if (!read_secret("--metrics-token-env", metrics_env, service.metrics_token)) return false;
  try {
    service.keys = std::make_shared<orchestrator::ApiKeys>(token, keys_file);
  } catch (const std::exception& e) {
    fmt::print(stderr, "llorch: error: {}\n", e.what());
    return false;
  }
  return true;
}

struct AccessFlags {
  std::string token_env;
  std::string keys_file;
  std::string metrics_env;
};

void add_access_flags(CLI::App* command, AccessFlags& flags) {
  command->add_option("--api-token-env", flags.token_env,
                      "Environment variable holding the API key clients must send");
  command->add_option("--api-keys-file", flags.keys_file,
                      "File of `client:key` lines, one key per client (read again when it "
                      "changes); each client sees only its own tasks");
  command->add_option("--metrics-token-env", flags.metrics_env,
                      "Environment variable holding a read-only token for /metrics");
}

}  // namespace

Command add_orchestrator_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "orchestrator", "The user's API: tasks, OpenAI-compatible endpoints, queue, relay");
  struct Options {
    orchestrator::OrchestratorConfig config;
    AccessFlags access;
    StateFlags state;
  };
  auto o = std::make_shared<Options>();
  command->add_option("--port", o->config.port, "Port of the API (0: any free port)")->required();
  add_state_flags(command, o->state,
                  "Share tasks, their events and the pool registry with other replicas on NATS "
                  "JetStream",
                  "How long a pool's (or replica's) registry entry outlives its last heartbeat");
  command->add_option("--replica-id", o->config.replica_id,
                      "This replica's name among those sharing the state (default: "
                      "HOSTNAME-PID); a replica silent for --registry-ttl-ms is taken over");
  command
      ->add_option_function<int>(
          "--retention", [o](int s) { o->config.retention = std::chrono::seconds(s); },
          "With --state: seconds a task's record and events are kept for readers")
      ->check(CLI::Range(60, 30 * 86400))
      ->default_str("3600");
  command->add_option("--host", o->config.host, "Address to bind")->capture_default_str();
  command->add_option("--pool", o->config.pool_urls,
                      "A pool manager to use (http://host:port); repeatable. Pool managers "
                      "started with --orchestrator register themselves instead");
  command
      ->add_option("--queue-size", o->config.scheduler.queue_size,
                   "Tasks that may wait for a slot; more get 429")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command
      ->add_option_function<int>(
          "--queue-timeout",
          [o](int s) { o->config.scheduler.queue_timeout = std::chrono::seconds(s); },
          "Seconds a task may wait in the queue before it ends with QUEUE_TIMEOUT")
      ->check(CLI::Range(1, 86400))
      ->default_str("300");
  add_access_flags(command, o->access);
  return {command, [o] {
            for (const auto& url : o->config.pool_urls) {
              try {
                net::parse_url(url);
              } catch (const std::exception& e) {
                fmt::print(stderr, "llorch: error: --pool {}: {}\n", url, e.what());
                return 1;
              }
            }
            try {
              o->config.state = read_state_flags(o->state);
            } catch (const std::exception& e) {
              fmt::print(stderr, "llorch: error: {}\n", e.what());
              return 1;
            }
            if (!read_access(o->access.token_env, o->access.keys_file, o->access.metrics_env,
                             o->config.service))
              return 1;
            o->config.service.pool_token = from_environment("LLORCH_ORCHESTRATOR_TOKEN");
            o->config.scheduler.pool_api_token = from_environment("LLORCH_POOL_TOKEN");
            narration::install_stdout_narrator({.component = "llorch-orchestrator"});
            return orchestrator::run_orchestrator(o->config);
          }};
}

Command add_serve_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "serve", "Orchestrator and pool manager in one process, workers as children: one machine");
  struct Options {
    LocalStackOptions stack;
    AccessFlags access;
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
  command
      ->add_option("-t,--threads", o->stack.threads,
                   "Threads of each worker's engine (shared by its slots)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  command->add_option("--slots", o->stack.slots, "Sequences each worker runs at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command
      ->add_option("--kv-size", o->stack.kv_size,
                   "KV cache positions of each worker, all its sequences (default: slots × ctx)")
      ->check(CLI::Range(16, 1 << 24));
  command->add_option("--kv-type", o->stack.kv_type, "KV cache type: f16, q8_0 or f32")
      ->check(CLI::IsMember({"f16", "q8_0", "f32"}))
      ->capture_default_str();
  command->add_option("--ctx", o->stack.context_length, "Context length (default: the model's)");
  command->add_option("--queue-size", o->stack.queue_size, "Tasks that may wait for a slot")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command
      ->add_option_function<int>(
          "--queue-timeout", [o](int s) { o->stack.queue_timeout = std::chrono::seconds(s); },
          "Seconds a task may wait in the queue before it ends with QUEUE_TIMEOUT")
      ->check(CLI::Range(1, 86400))
      ->default_str("300");
  add_access_flags(command, o->access);
  return {command, [o] {
            if (!read_access(o->access.token_env, o->access.keys_file, o->access.metrics_env,
                             o->stack.service))
              return 1;
            narration::install_stdout_narrator({.component = "llorch-serve"});
            namespace n = llorch::narration;
            boost::asio::io_context io;
            LocalStack stack(io, o->stack);
            int exit_code = 0;
            // A model that cannot load stays so: say why and how to fix it, and leave, rather
            // than serve an API on which every request would fail.
            stack.on_failed([&](const std::string& reasons) {
              exit_code = static_cast<int>(worker::kExitModelLoadFailed);
              n::fatal(n::actor::orchestrator, n::action::worker_failed)
                  .target(o->stack.model)
                  .human(
                      "No worker can serve {}: {}. Fix the model file or the worker settings "
                      "(llorch model info {} shows what the file holds), then start llorch "
                      "serve again",
                      o->stack.model, reasons, o->stack.model)
                  .error_kind("MODEL_UNAVAILABLE")
                  .exit_code(exit_code)
                  .emit();
              stack.shutdown([&io] { io.stop(); });
            });
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
                .human("llorch serve stopped (exit code {})", exit_code)
                .exit_code(exit_code)
                .emit();
            return exit_code;
          }};
}

}  // namespace llorch::cli
