// Tells the pool manager that this worker is ready — only after its port is bound.
#pragma once

#include <atomic>
#include <string>

namespace llorch::worker {

struct ReadyReport {
  std::string callback_url;
  std::string token;  // bearer token (LLORCH_CALLBACK_TOKEN); may be empty
  std::string body;   // {worker_id, url, model_ref, memory_bytes, device, slots}
  int attempts = 5;
  int first_delay_ms = 200;
};

// POSTs the report, retrying with exponential backoff; each attempt is narrated, and so is the
// outcome. Returns false when every attempt failed (or `stop` became true meanwhile).
bool send_ready_callback(const ReadyReport& report, const std::atomic<bool>& stop);

}  // namespace llorch::worker
