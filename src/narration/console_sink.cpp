#include "narration/console_sink.hpp"

#include <fmt/format.h>

#include "narration/json_sink.hpp"

namespace llorch::narration {
namespace {

std::string_view level_colour(Level level) {
  switch (level) {
    case Level::trace:
    case Level::debug:
      return "\x1b[2m";
    case Level::info:
      return "\x1b[32m";
    case Level::warn:
      return "\x1b[33m";
    case Level::error:
    case Level::fatal:
      return "\x1b[31m";
  }
  return "";
}

// Who speaks: the process's identity when it has one (the pool manager's view of a worker),
// the actor otherwise.
const std::string& speaker(const Event& event) {
  if (!event.worker_id.empty()) return event.worker_id;
  if (!event.pool_id.empty()) return event.pool_id;
  return event.actor;
}

}  // namespace

std::string format_console_line(const Event& event, bool color) {
  std::string level(to_string(event.level));
  for (char& c : level) c = static_cast<char>(c - ('a' - 'A'));
  std::string line =
      color ? fmt::format("{} {}{:<5}\x1b[0m {}: {}", event.ts, level_colour(event.level), level,
                          speaker(event), event.human)
            : fmt::format("{} {:<5} {}: {}", event.ts, level, speaker(event), event.human);
  if (!event.job_id.empty()) line += fmt::format(" [job {}]", event.job_id);
  if (!event.correlation_id.empty()) line += fmt::format(" [corr {}]", event.correlation_id);
  return line;
}

ConsoleSink::ConsoleSink(int fd, bool color) : fd_(fd), color_(color) {}

void ConsoleSink::write(const Event& event) {
  std::string line = format_console_line(event, color_);
  line.push_back('\n');
  std::lock_guard lock(mutex_);
  write_all(fd_, line);
}

}  // namespace llorch::narration
