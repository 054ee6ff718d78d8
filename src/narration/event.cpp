#include "narration/event.hpp"

namespace llorch::narration {

std::optional<Mode> parse_mode(std::string_view text) noexcept {
  if (text == "human") return Mode::human;
  if (text == "cute") return Mode::cute;
  if (text == "story") return Mode::story;
  return std::nullopt;
}

std::string_view to_string(Mode mode) noexcept {
  switch (mode) {
    case Mode::cute:
      return "cute";
    case Mode::story:
      return "story";
    case Mode::human:
      break;
  }
  return "human";
}

const std::string& text_for(const Event& event, Mode mode) noexcept {
  if (mode == Mode::cute && !event.cute.empty()) return event.cute;
  if (mode == Mode::story && !event.story.empty()) return event.story;
  return event.human;
}

}  // namespace llorch::narration
