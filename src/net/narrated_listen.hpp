// Binding a server the way every llorch process does: narrated when it listens, and when it
// cannot, with the reason and the fix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/http_server.hpp"

namespace llorch::net {

// Binds `server` to host:port (0: any free port). Narrates "<what> listening on http://host:port"
// (server_bind, with the address) and returns that URL; or narrates server_bind_failed and returns
// nullopt.
std::optional<std::string> listen_narrated(HttpServer& server, const std::string& host,
                                           std::uint16_t port, std::string_view what);

}  // namespace llorch::net
