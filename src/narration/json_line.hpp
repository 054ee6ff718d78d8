// The flat JSON line format of a narration event: what workers print and pool managers parse.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "narration/event.hpp"

namespace llorch::narration {

// Appends `event` as one JSON object (no newline) to `out`. Empty optional text (cute, story, ids)
// and unset context are left out. The output is valid JSON for any bytes the strings hold: invalid
// UTF-8 and control characters are replaced, never passed through.
void append_json(std::string& out, const Event& event);
std::string to_json_line(const Event& event);

// A line of a process's output that is not a narration record, kept verbatim.
struct RawLine {
  std::string text;
  bool operator==(const RawLine&) const = default;
};

using ParsedLine = std::variant<Event, RawLine>;

// Reads one line (a trailing "\n" or "\r\n" is ignored). Anything that is not a JSON object with
// string actor, action, human and a known level — or that has a field of the wrong type — comes
// back as RawLine. Never throws for any input.
ParsedLine parse_line(std::string_view line);

}  // namespace llorch::narration
