#include "pool/port_allocator.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llorch::pool {

bool port_is_free(const std::string& host, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return false;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                    ::listen(fd, 1) == 0;
  ::close(fd);
  return free;
}

PortAllocator::PortAllocator(std::string host, PortRange range)
    : host_(std::move(host)), range_(range), next_(range.first) {}

std::optional<std::uint16_t> PortAllocator::acquire() {
  const std::uint32_t size = std::uint32_t(range_.last) - range_.first + 1;
  skipped_last_ = 0;
  for (std::uint32_t tried = 0; tried < size; ++tried) {
    const auto port = static_cast<std::uint16_t>(next_);
    next_ = next_ >= range_.last ? range_.first : next_ + 1;
    if (in_use_.contains(port)) continue;
    if (!port_is_free(host_, port)) {
      ++skipped_last_;
      continue;
    }
    in_use_.insert(port);
    return port;
  }
  return std::nullopt;
}

void PortAllocator::release(std::uint16_t port) {
  in_use_.erase(port);
}

}  // namespace llorch::pool
