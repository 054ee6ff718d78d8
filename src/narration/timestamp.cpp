#include "narration/timestamp.hpp"

#include <ctime>

namespace llorch::narration {

std::string format_timestamp(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  const auto since_epoch = duration_cast<milliseconds>(when.time_since_epoch());
  const auto seconds = duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = static_cast<int>((since_epoch - seconds).count());

  // Formatting the calendar part is the expensive bit; a thread remembers the last second it did.
  thread_local std::time_t cached_second = -1;
  thread_local char cached_prefix[32] = {};
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  if (t != cached_second) {
    std::tm utc{};
    gmtime_r(&t, &utc);
    std::strftime(cached_prefix, sizeof cached_prefix, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_second = t;
  }
  // "YYYY-MM-DDTHH:MM:SS" + ".mmmZ", assembled by hand: this runs once per event.
  std::string out;
  out.reserve(24);
  out.append(cached_prefix);
  const char tail[5] = {'.', static_cast<char>('0' + millis / 100),
                        static_cast<char>('0' + millis / 10 % 10),
                        static_cast<char>('0' + millis % 10), 'Z'};
  out.append(tail, sizeof tail);
  return out;
}

std::string now_timestamp() {
  return format_timestamp(std::chrono::system_clock::now());
}

}  // namespace llorch::narration
