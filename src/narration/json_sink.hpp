// The operator's log: one flat JSON line per event on a file descriptor (stdout by default).
#pragma once

#include <mutex>

#include "narration/sink.hpp"

namespace llorch::narration {

// Thread-safe. Each line (with its '\n') is written whole under a lock, so lines from many
// threads never interleave, also on pipes for lines longer than PIPE_BUF. Does not own `fd`.
class JsonLineSink final : public Sink {
 public:
  explicit JsonLineSink(int fd);
  void write(const Event& event) override;

 private:
  int fd_;
  std::mutex mutex_;
};

// Writes all of `bytes` to `fd`, retrying on EINTR and short writes. Throws std::system_error.
void write_all(int fd, std::string_view bytes);

}  // namespace llorch::narration
