#include "narration/json_sink.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "narration/json_line.hpp"

namespace llorch::narration {

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "narration: write failed");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

JsonLineSink::JsonLineSink(int fd) : fd_(fd) {}

void JsonLineSink::write(const Event& event) {
  thread_local std::string line;
  line.clear();
  append_json(line, event);
  line.push_back('\n');
  std::lock_guard lock(mutex_);
  write_all(fd_, line);
}

}  // namespace llorch::narration
