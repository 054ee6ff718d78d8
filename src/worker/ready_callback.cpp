#include "worker/ready_callback.hpp"

#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "narration/narrate.hpp"
#include "net/http_client.hpp"

namespace llorch::worker {

namespace n = llorch::narration;

bool send_ready_callback(const ReadyReport& report, const std::atomic<bool>& stop) {
  int delay = report.first_delay_ms;
  std::string last_error;
  for (int attempt = 1; attempt <= report.attempts && !stop; ++attempt) {
    n::info(n::actor::worker, n::action::callback_attempt)
        .target(report.callback_url)
        .human("Sending ready callback to {} (attempt {} of {})", report.callback_url, attempt,
               report.attempts)
        .attempt(attempt)
        .emit();
    try {
      net::ClientRequest request{.method = "POST", .url = report.callback_url, .body = report.body};
      if (!report.token.empty())
        request.headers.emplace_back("Authorization", "Bearer " + report.token);
      request.timeout = std::chrono::milliseconds(5000);
      const net::ClientResponse response = net::http_call(request);
      if (response.status >= 200 && response.status < 300) {
        n::info(n::actor::worker, n::action::callback_ready)
            .target(report.callback_url)
            .human("Pool manager acknowledged ready (HTTP {})", response.status)
            .cute("The pool manager waved back! Ready to work 🙌")
            .attempt(attempt)
            .emit();
        return true;
      }
      last_error = "HTTP " + std::to_string(response.status) + " " + response.body.substr(0, 200);
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    n::warn(n::actor::worker, n::action::callback_attempt)
        .target(report.callback_url)
        .human("Ready callback attempt {} failed: {}{}", attempt, last_error,
               attempt < report.attempts ? "; retrying in " + std::to_string(delay) + " ms" : "")
        .attempt(attempt)
        .error_kind("CALLBACK_FAILED")
        .emit();
    if (attempt < report.attempts) {
      for (int waited = 0; waited < delay && !stop; waited += 10)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      delay *= 2;
    }
  }
  n::error(n::actor::worker, n::action::callback_failed)
      .target(report.callback_url)
      .human("Giving up on the ready callback to {} after {} attempts: {}", report.callback_url,
             report.attempts, last_error)
      .error_kind("CALLBACK_FAILED")
      .emit();
  return false;
}

}  // namespace llorch::worker
