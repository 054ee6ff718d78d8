#include "state/state_url.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <regex>
#include <stdexcept>

namespace llorch::state {

namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

StateConfig state_config(const std::string& url, std::chrono::milliseconds registry_ttl) {
  static const std::regex form(R"(nats://[A-Za-z0-9.\-]+:[0-9]{1,5})");
  if (!std::regex_match(url, form)) {
    throw std::invalid_argument(fmt::format(
        "--state {}: give the NATS server as nats://HOST:PORT (credentials go in "
        "LLORCH_NATS_TOKEN, or LLORCH_NATS_USER and LLORCH_NATS_PASSWORD, not in the URL)",
        url));
  }
  if (registry_ttl < std::chrono::milliseconds(1000)) {
    throw std::invalid_argument("--registry-ttl-ms must be at least 1000");
  }
  StateConfig config{url, environment("LLORCH_NATS_TOKEN"), environment("LLORCH_NATS_USER"),
                     environment("LLORCH_NATS_PASSWORD"), registry_ttl};
  if (config.user.empty() != config.password.empty()) {
    throw std::invalid_argument(
        "LLORCH_NATS_USER and LLORCH_NATS_PASSWORD go together: set both, or neither");
  }
  return config;
}

}  // namespace llorch::state
