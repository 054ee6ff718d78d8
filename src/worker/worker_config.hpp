// Everything `llorch worker` is told, in one struct (flags are declared once, in the CLI).
#pragma once

#include <cstdint>
#include <string>

namespace llorch::worker {

struct WorkerConfig {
  std::string model_path;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;   // 0: any free port (the bound one is narrated)
  std::string worker_id;       // default: worker-<port>
  std::string callback_url;    // pool manager's ready endpoint; empty: no callback
  std::string device = "cpu";  // cpu | cuda:N | metal:N
  std::size_t threads = 1;     // per slot
  std::size_t slots = 1;
  std::size_t progress_every = 10;  // "Generated N tokens" every N tokens
  std::size_t context_length = 0;   // 0: the model's
  int callback_attempts = 5;
  int callback_first_delay_ms = 200;  // doubles after each failed attempt
  int drain_timeout_ms = 5000;        // how long shutdown waits for streams to finish
};

// Runs the worker until it is told to stop. Returns the process exit code: 0 after a clean
// shutdown; 2 device unavailable; 3 model load failed; 4 bind failed; 5 ready callback failed.
int run_worker(WorkerConfig config);

}  // namespace llorch::worker
