#include "state/state_url.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace llorch::state {

namespace {

// nats://HOST:PORT with HOST of letters, digits, dots and dashes and PORT 1-65535.
bool nats_url(std::string_view url) {
  constexpr std::string_view scheme = "nats://";
  if (url.substr(0, scheme.size()) != scheme) return false;
  const std::string_view rest = url.substr(scheme.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (char c : rest.substr(0, colon)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  }
  const std::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

StateConfig state_config(const std::string& url, std::chrono::milliseconds registry_ttl,
                         int replicas) {
  // Each piece between commas (clang's libFuzzer build cannot take views::split over GCC 12's
  // <ranges>: a loop).
  std::vector<std::string> servers;
  for (std::size_t start = 0;;) {
    const auto comma = url.find(',', start);
    servers.push_back(url.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const auto& server : servers) {
    if (nats_url(server)) continue;
    throw std::invalid_argument(fmt::format(
        "--state {}: give the NATS server as nats://HOST:PORT, or a cluster's servers as "
        "nats://HOST:PORT,nats://HOST:PORT,… (credentials go in LLORCH_NATS_TOKEN, or "
        "LLORCH_NATS_USER and LLORCH_NATS_PASSWORD, not in the URL)",
        url));
  }
  if (registry_ttl < std::chrono::milliseconds(1000)) {
    throw std::invalid_argument("--registry-ttl-ms must be at least 1000");
  }
  if (replicas < 1 || replicas > 5) {
    throw std::invalid_argument(fmt::format(
        "--state-replicas {}: JetStream keeps a stream on 1 to 5 servers (3 rides out the loss "
        "of one)",
        replicas));
  }
  StateConfig config{.url = url,
                     .servers = std::move(servers),
                     .token = environment("LLORCH_NATS_TOKEN"),
                     .user = environment("LLORCH_NATS_USER"),
                     .password = environment("LLORCH_NATS_PASSWORD"),
                     .registry_ttl = registry_ttl,
                     .replicas = replicas};
  if (config.user.empty() != config.password.empty()) {
    throw std::invalid_argument(
        "LLORCH_NATS_USER and LLORCH_NATS_PASSWORD go together: set both, or neither");
  }
  return config;
}

}  // namespace llorch::state
