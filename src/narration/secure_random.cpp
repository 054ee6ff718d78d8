#include "narration/secure_random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <vector>

namespace llorch::narration {

void fill_secure_random(void* data, std::size_t size) {
  auto* out = static_cast<unsigned char*>(data);
  while (size > 0) {
    const ssize_t n = ::getrandom(out, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    out += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::uint64_t secure_random_u64() {
  std::uint64_t value = 0;
  fill_secure_random(&value, sizeof value);
  return value;
}

std::string secure_random_hex(std::size_t bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::vector<unsigned char> raw(bytes);
  fill_secure_random(raw.data(), raw.size());
  std::string hex;
  hex.reserve(bytes * 2);
  for (const unsigned char b : raw) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

}  // namespace llorch::narration
