// What a file descriptor's terminal can take, by the conventions users set: TERM=dumb (no cursor
// movement, no colour) and NO_COLOR (https://no-color.org: no colour, whatever its value).
#pragma once

namespace llorch::narration {

// A terminal that understands cursor movement: a tty, and TERM is not "dumb".
bool is_capable_terminal(int fd) noexcept;
// Colours on `fd`: a capable terminal, and NO_COLOR is unset or empty.
bool colours_wanted(int fd) noexcept;

}  // namespace llorch::narration
