#include "security_support.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "api/sse_parser.hpp"

namespace llorch::testing {

net::ClientResponse request(const std::string& method, const std::string& url,
                            const std::string& body, net::Headers headers,
                            std::chrono::milliseconds timeout) {
  net::ClientRequest r{.method = method, .url = url, .body = body, .headers = std::move(headers)};
  r.timeout = timeout;
  return net::http_call(r);
}

net::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

Stream read_stream(const std::string& url, net::Headers headers, const std::string& method,
                   const std::string& body) {
  Stream out;
  api::SseParser parser;
  net::ClientRequest r{.method = method, .url = url, .body = body, .headers = std::move(headers)};
  r.timeout = std::chrono::seconds(60);
  net::http_call(r, [&](const net::ClientResponse& head, std::string_view chunk) {
    out.status = head.status;
    for (auto& e : parser.feed(chunk)) {
      out.names.push_back(e.event);
      out.data.push_back(nlohmann::json::parse(e.data, nullptr, false));
    }
    return true;
  });
  return out;
}

bool wait_for_ready_worker(const std::string& orchestrator_url, net::Headers headers,
                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      const auto health = request("GET", orchestrator_url + "/health", "", headers);
      const auto body = nlohmann::json::parse(health.body, nullptr, false);
      if (body.is_object() && body.value("workers_ready", 0) > 0) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

Serve::Serve(std::vector<std::string> extra, std::vector<std::pair<std::string, std::string>> env,
             std::string model)
    : process(
          [&] {
            std::vector<std::string> argv{"serve", "--model", model, "--port", "0"};
            argv.insert(argv.end(), extra.begin(), extra.end());
            return argv;
          }(),
          std::move(env)) {
  EXPECT_TRUE(wait_for_ready_worker(process.url())) << "no worker became ready";
}

}  // namespace llorch::testing
