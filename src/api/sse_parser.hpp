// Reads a text/event-stream back into events, however the bytes are split across reads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llorch::api {

struct SseEvent {
  std::string id;
  std::string event = "message";
  std::string data;  // data lines joined with "\n"
};

// Follows the WHATWG rules for the fields llorch uses: id, event, data; comments (":") and
// unknown fields are ignored; CRLF, CR and LF all end lines.
class SseParser {
 public:
  // Feeds bytes; returns the events completed by them.
  std::vector<SseEvent> feed(std::string_view bytes);
  // A line or an event grew past kMaxEventBytes: the rest of the input is ignored.
  bool overflowed() const noexcept { return overflowed_; }

  static constexpr std::size_t kMaxEventBytes = 4 * 1024 * 1024;

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);

  std::string buffer_;
  SseEvent current_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
  bool overflowed_ = false;
};

}  // namespace llorch::api
