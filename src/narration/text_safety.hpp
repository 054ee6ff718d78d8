// Makes arbitrary bytes safe for a log line and a terminal: valid UTF-8, no control characters.
#pragma once

#include <string>
#include <string_view>

namespace llorch::narration {

// Rewrites `text` in place so that it is valid UTF-8 holding no character that can break a log
// line or drive a terminal: tab, CR and LF become a space; every other C0/C1 control, DEL, the
// bidirectional overrides and each maximal invalid UTF-8 subsequence become U+FFFD.
// ASCII-printable input is left untouched without allocating.
void sanitize(std::string& text);

// The same for text shown on a terminal whose line breaks matter (generated text): LF is kept,
// everything else as sanitize() does. Escape sequences (ESC, CSI, OSC: title, clipboard, screen
// clearing) and bidi overrides never reach the terminal.
void sanitize_keeping_lines(std::string& text);

// True when sanitize() would leave `text` unchanged.
bool is_safe(std::string_view text) noexcept;

// One character of `text` starting at byte `i` (which must be < text.size()), as sanitize() sees
// it: `length` bytes long (at least 1); `safe` when it may pass through unchanged; otherwise
// `blank` says it becomes a space (tab, CR, LF) rather than U+FFFD. For writers that escape and
// sanitize in one pass.
struct CharCheck {
  std::size_t length;
  bool safe;
  bool blank;
};
CharCheck check_char(std::string_view text, std::size_t i) noexcept;

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace llorch::narration
