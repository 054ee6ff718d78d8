// Ports for workers: each one checked free by binding it, never guessed, and never handed to two
// workers of this pool at once.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "pool/pool_config.hpp"

namespace llorch::pool {

class PortAllocator {
 public:
  PortAllocator(std::string host, PortRange range);

  // The next port of the range that is not ours and that we could bind just now; nullopt when
  // every port is taken. Ports are tried round-robin, so a port just released is tried last
  // (its TIME_WAIT sockets and a slow-dying worker get time to go).
  std::optional<std::uint16_t> acquire();
  void release(std::uint16_t port);
  // Ports skipped during the last acquire() because something else held them.
  std::size_t skipped_last() const noexcept { return skipped_last_; }

 private:
  std::string host_;
  PortRange range_;
  std::uint32_t next_;
  std::set<std::uint16_t> in_use_;
  std::size_t skipped_last_ = 0;
};

// Whether `port` on `host` can be bound now (SO_REUSEADDR, as the worker's server does).
bool port_is_free(const std::string& host, std::uint16_t port);

}  // namespace llorch::pool
