#include "narration/terminal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace llorch::narration {

bool is_capable_terminal(int fd) noexcept {
  if (::isatty(fd) != 1) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::string_view(term) != "dumb";
}

bool colours_wanted(int fd) noexcept {
  const char* no_color = std::getenv("NO_COLOR");
  return is_capable_terminal(fd) && (no_color == nullptr || *no_color == '\0');
}

}  // namespace llorch::narration
