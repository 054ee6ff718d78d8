// Everything `llorch worker` is told, in one struct (flags are declared once, in the CLI).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llorch::worker {

struct WorkerConfig {
  std::string model_path;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;   // 0: any free port (the bound one is narrated)
  std::string worker_id;       // default: worker-<port>
  std::string callback_url;    // pool manager's ready endpoint; empty: no callback
  std::string secret;          // LLORCH_WORKER_TOKEN: required for /execute, /cancel, /shutdown
  std::string device = "cpu";  // cpu | cuda:N | metal:N
  std::size_t threads = 1;     // of the engine loop, shared by every slot
  std::size_t slots = 1;
  std::size_t progress_every = 10;  // "Generated N tokens" every N tokens
  std::size_t context_length = 0;   // 0: the model's
  std::string kv_type = "f16";      // the KV cache's type: f16, q8_0 or f32
  std::size_t kv_size = 0;          // KV cache positions, all sequences; 0: slots × context
  int callback_attempts = 5;
  int callback_first_delay_ms = 200;  // doubles after each failed attempt
  int drain_timeout_ms = 5000;        // how long shutdown waits for streams to finish
};

// The worker's exit codes; the pool manager reads them to explain a crash.
enum ExitCode : int {
  kExitClean = 0,
  kExitDeviceUnavailable = 2,  // also every CLI usage error (llorch exits 2 on those)
  kExitModelLoadFailed = 3,
  kExitBindFailed = 4,
  kExitCallbackFailed = 5,
  kExitModelFileChanged = 6,  // the model file changed under it: start it again on the new file
};

// What an exit code means, for a crash report ("model load failed"); empty for unknown codes.
std::string_view describe_exit_code(int code) noexcept;

// Runs the worker until it is told to stop. Returns one of the exit codes above.
int run_worker(WorkerConfig config);

}  // namespace llorch::worker
