// Helpers shared by the security tests: plain HTTP calls with a status, a stream read to its end,
// and `llorch serve` ready to answer.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llorch_process.hpp"
#include "net/http_client.hpp"

namespace llorch::testing {

// One request; never throws for an HTTP status (only when nothing answered).
net::ClientResponse request(const std::string& method, const std::string& url,
                            const std::string& body = "", net::Headers headers = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));

net::Headers bearer(const std::string& token);

// Reads an SSE stream to its end: every event's name and data.
struct Stream {
  unsigned status = 0;
  std::vector<std::string> names;
  std::vector<nlohmann::json> data;
};
Stream read_stream(const std::string& url, net::Headers headers = {},
                   const std::string& method = "GET", const std::string& body = "");

// Waits until GET /health of the orchestrator reports a ready worker.
bool wait_for_ready_worker(const std::string& orchestrator_url, net::Headers headers = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

// `llorch serve --model M --port 0 <extra>` with `env`, ready for requests.
struct Serve {
  explicit Serve(std::vector<std::string> extra = {},
                 std::vector<std::pair<std::string, std::string>> env = {},
                 std::string model = model_path());
  LlorchProcess process;
};

}  // namespace llorch::testing
