// libFuzzer target: any bytes as a line of a worker's stdout. The parser returns an event or a raw
// line, never throws; an event it returns writes back as valid JSON that parses to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "narration/json_line.hpp"
#include "narration/text_safety.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llorch::narration;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const ParsedLine parsed = parse_line(line);
  if (const auto* event = std::get_if<Event>(&parsed)) {
    const std::string again = to_json_line(*event);
    const ParsedLine reparsed = parse_line(again);
    if (!std::holds_alternative<Event>(reparsed)) std::abort();
  }
  std::string text(line);
  sanitize(text);
  if (!is_safe(text)) std::abort();
  return 0;
}
