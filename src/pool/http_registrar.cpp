#include <fmt/format.h>

#include "narration/narrate.hpp"
#include "net/http_client.hpp"
#include "pool/registrar.hpp"

namespace llorch::pool {

namespace n = llorch::narration;

namespace {

class HttpRegistrar : public Registrar {
 public:
  HttpRegistrar(std::string url, std::string token)
      : url_(std::move(url)), token_(std::move(token)) {}

  std::string where() const override { return "the orchestrator at " + url_; }

  bool announce(const nlohmann::ordered_json& report, bool& first, std::string& problem) override {
    first = false;
    unsigned status = 0;
    if (registered_) {
      nlohmann::ordered_json heartbeat = report;
      heartbeat.erase("url");
      const std::string path = "/v1/pools/" + report["pool_id"].get<std::string>() + "/heartbeat";
      if (send("POST", path, heartbeat.dump(), status, problem)) return true;
      if (status != 404) return false;
      // The orchestrator restarted and forgot the pool: register again at once.
      registered_ = false;
      n::warn(n::actor::pool_manager, n::action::pool_heartbeat)
          .target(url_)
          .human("The orchestrator at {} no longer knows pool {}; registering again", url_,
                 report["pool_id"].get<std::string>())
          .emit();
    }
    if (!send("POST", "/v1/pools", report.dump(), status, problem)) return false;
    registered_ = first = true;
    return true;
  }

  bool withdraw(const std::string& pool_id, std::string& problem) override {
    unsigned status = 0;
    return send("DELETE", "/v1/pools/" + pool_id, "", status, problem);
  }

 private:
  bool send(const std::string& method, const std::string& path, const std::string& body,
            unsigned& status, std::string& problem) {
    try {
      net::ClientRequest request{.method = method, .url = url_ + path, .body = body};
      if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
      request.timeout = std::chrono::milliseconds(3000);
      const auto response = net::http_call(request);
      status = response.status;
      if (status >= 200 && status < 300) return true;
      problem = fmt::format("HTTP {} {}", status, response.body.substr(0, 200));
    } catch (const std::exception& e) {
      status = 0;
      problem = e.what();
    }
    return false;
  }

  std::string url_;
  std::string token_;
  bool registered_ = false;
};

}  // namespace

std::unique_ptr<Registrar> http_registrar(std::string orchestrator_url, std::string token) {
  return std::make_unique<HttpRegistrar>(std::move(orchestrator_url), std::move(token));
}

}  // namespace llorch::pool
