// The readable log for a person at a terminal:
//   2025-10-09T13:31:30.120Z INFO  worker-gpu0-r1: Loaded Llama model (7000 MB)
#pragma once

#include <mutex>
#include <string>

#include "narration/sink.hpp"

namespace llorch::narration {

// Formats one event as a console line (no newline). `color` adds ANSI colours to the level.
std::string format_console_line(const Event& event, bool color);

// Thread-safe; one write per line, like JsonLineSink. Does not own `fd`.
class ConsoleSink final : public Sink {
 public:
  ConsoleSink(int fd, bool color);
  void write(const Event& event) override;

 private:
  int fd_;
  bool color_;
  std::mutex mutex_;
};

}  // namespace llorch::narration
