#include "net/narrated_listen.hpp"

#include <fmt/format.h>

#include "narration/narrate.hpp"

namespace llorch::net {

namespace n = llorch::narration;

std::optional<std::string> listen_narrated(HttpServer& server, const std::string& host,
                                           std::uint16_t port, std::string_view what) {
  const std::string wanted = fmt::format("{}:{}", host, port);
  try {
    server.listen(host, port);
  } catch (const std::exception& e) {
    n::error(n::actor::http_server, n::action::server_bind_failed)
        .target(wanted)
        .human("Could not bind {}: {}; choose another --port or stop what holds it", wanted,
               e.what())
        .error_kind("BIND_FAILED")
        .emit();
    return std::nullopt;
  }
  const std::string address = fmt::format("{}:{}", host, server.port());
  const std::string url = "http://" + address;
  n::info(n::actor::http_server, n::action::server_bind)
      .target(url)
      .human("{} listening on {}", what, url)
      .cute("Ears open on {}! 👂", address)
      .address(address)
      .emit();
  return url;
}

}  // namespace llorch::net
