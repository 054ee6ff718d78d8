// What a pool manager keeps running and how it supervises: read from a TOML file, flags, and the
// body of POST /v1/workers. Every parser reports each bad field with the rule it broke.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/errors.hpp"
#include "state/state_url.hpp"

namespace llorch::pool {

// One kind of worker: `count` identical `llorch worker` processes.
struct WorkerSpec {
  std::string model;  // absolute path of the model file
  std::string device = "cpu";
  std::size_t threads = 1;
  std::size_t slots = 1;
  std::size_t context_length = 0;  // 0: the model's
  std::size_t kv_size = 0;         // KV cache positions of all its sequences; 0: slots × context
  std::string kv_type = "f16";     // f16, q8_0 or f32
  std::size_t count = 1;           // config files only; the API spawns one at a time
};

struct Supervision {
  std::chrono::milliseconds ready_timeout{60000};  // spawn → ready callback, else killed
  std::chrono::milliseconds health_interval{2000};
  int health_failures_before_kill = 3;             // consecutive failed polls of a ready worker
  std::chrono::milliseconds restart_backoff{500};  // doubles after each crash in a row …
  std::chrono::milliseconds restart_backoff_max{30000};  // … up to this
  int crash_loop_crashes = 5;                            // this many crashes …
  std::chrono::milliseconds crash_loop_window{60000};    // … within this: stop restarting
  std::chrono::milliseconds drain_timeout{10000};        // SIGTERM → SIGKILL for a worker
};

struct PortRange {
  std::uint16_t first = 19100;
  std::uint16_t last = 19899;
};

// What POST /v1/workers may ask for: a caller with the pool's token still cannot take the
// machine's memory with a request (config files are the operator's and are not bounded here).
struct SpawnLimits {
  std::size_t slots = 8;          // per worker
  std::size_t context = 32768;    // ctx, when given (0: the model's own)
  std::size_t kv_size = 262144;   // KV cache positions per worker, when given
  std::size_t threads = 0;        // per worker; 0: this machine's cores
  std::size_t workers = 16;       // workers in the pool after the spawn
  std::uint64_t model_bytes = 0;  // model files of all workers together; 0: ¾ of physical memory
};

struct PoolConfig {
  std::string pool_id;  // default: pool-<hostname>
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string orchestrator_url;    // empty: no registration
  std::string orchestrator_token;  // LLORCH_ORCHESTRATOR_TOKEN: shown when registering
  // --state nats://…: register in the shared registry instead of with one orchestrator.
  std::optional<state::StateConfig> state;
  std::string api_token;  // LLORCH_POOL_TOKEN: required by the API (all but /health)
  SpawnLimits spawn_limits;
  std::chrono::milliseconds heartbeat_interval{5000};
  std::string worker_binary;  // default: this executable
  PortRange worker_ports;
  Supervision supervision;
  std::vector<WorkerSpec> workers;
};

// A config file that cannot be used: the message names the file, the key and the fix.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a TOML pool config into `config` (keys it does not set keep their values). Relative
// model paths are taken from the config file's folder. Unknown keys are errors, so that a typo
// never silently becomes a default.
void load_pool_config(const std::filesystem::path& path, PoolConfig& config);

// The same for TOML text: `source` names it in messages, `base` resolves relative model paths.
void parse_pool_config(std::string_view toml_text, const std::string& source,
                       const std::filesystem::path& base, PoolConfig& config);

// "A-B" (both inclusive, 1024–65535) or a single port.
PortRange parse_port_range(const std::string& text);

// The rules a worker spec must meet, wherever it came from; `prefix` names its place
// ("workers[1]." in a file, "" in a request body).
std::vector<api::FieldError> check_worker_spec(const WorkerSpec& spec, const std::string& prefix);

// The body of POST /v1/workers: {model, device?, threads?, slots?, ctx?, kv_size?, kv_type?}.
// Relative model paths
// are taken from `base`. Returns every failing field.
std::vector<api::FieldError> parse_worker_request(const std::string& body,
                                                  const std::filesystem::path& base,
                                                  WorkerSpec& spec);

}  // namespace llorch::pool
