// `llorch pool-manager`: the flags and the config file, into a PoolConfig.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/state_flags.hpp"
#include "narration/setup.hpp"
#include "net/http_client.hpp"
#include "pool/pool_config.hpp"
#include "pool/pool_manager.hpp"

namespace llorch::cli {

namespace {

std::string default_pool_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "pool-local";
  return fmt::format("pool-{}", host);
}

}  // namespace

Command add_pool_manager_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "pool-manager", "Spawn and supervise workers, relay their narration, serve the pool API");
  struct Options {
    pool::PoolConfig config;
    std::string config_file;
    std::string pool_id;
    std::string worker_ports;
    StateFlags state;
  };
  auto o = std::make_shared<Options>();
  command->add_option("--port", o->config.port, "Port of the pool API (0: any free port)")
      ->required();
  command->add_option("--host", o->config.host, "Address to bind (workers bind it too)")
      ->capture_default_str();
  command->add_option("-c,--config", o->config_file, "TOML file declaring the workers to keep")
      ->check(CLI::ExistingFile);
  command->add_option("--orchestrator", o->config.orchestrator_url,
                      "Orchestrator to register with and send heartbeats to (http://…)");
  add_state_flags(command, o->state, "Register in the shared registry on NATS instead",
                  "How long a pool's registry entry outlives its last heartbeat")
      ->excludes(command->get_option("--orchestrator"));
  command->add_option("--pool-id", o->pool_id, "Name of this pool (default pool-<hostname>)");
  command->add_option("--worker-ports", o->worker_ports,
                      "Ports workers may bind, A-B (default 19100-19899; each checked free)");
  command->add_option("--worker-binary", o->config.worker_binary,
                      "Program started as `<binary> worker …` (default: this llorch)");
  return {command, [o] {
            pool::PoolConfig& config = o->config;
            try {
              if (!o->config_file.empty()) pool::load_pool_config(o->config_file, config);
              if (!o->pool_id.empty()) config.pool_id = o->pool_id;
              if (!o->worker_ports.empty())
                config.worker_ports = pool::parse_port_range(o->worker_ports);
              if (!config.orchestrator_url.empty()) net::parse_url(config.orchestrator_url);
              config.state = read_state_flags(o->state);
              if (config.state) {
                // Two missed heartbeats at most before the entry would expire.
                if (config.heartbeat_interval * 2 > config.state->registry_ttl)
                  throw std::invalid_argument(fmt::format(
                      "heartbeat_interval_ms ({}) must be at most half of --registry-ttl-ms "
                      "({}), or the pool's entry expires between heartbeats",
                      config.heartbeat_interval.count(), o->state.registry_ttl_ms));
              }
            } catch (const std::exception& e) {
              fmt::print(stderr, "llorch: error: {}\n", e.what());
              return 1;
            }
            if (config.pool_id.empty()) config.pool_id = default_pool_id();
            if (config.state) config.state->client_name = "llorch pool-manager " + config.pool_id;
            // Secrets come from the environment, never the command line (which every local
            // user can read).
            if (const char* t = std::getenv("LLORCH_POOL_TOKEN")) config.api_token = t;
            if (const char* t = std::getenv("LLORCH_ORCHESTRATOR_TOKEN"))
              config.orchestrator_token = t;
            if (config.worker_binary.empty()) {
              std::error_code ec;
              config.worker_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
            }
            if (::access(config.worker_binary.c_str(), X_OK) != 0) {
              fmt::print(stderr,
                         "llorch: error: worker binary {} is not an executable file; give "
                         "--worker-binary the path of llorch\n",
                         config.worker_binary);
              return 1;
            }
            narration::install_stdout_narrator(
                {.component = "llorch-pool-manager", .pool_id = config.pool_id});
            return pool::run_pool_manager(config);
          }};
}

}  // namespace llorch::cli
