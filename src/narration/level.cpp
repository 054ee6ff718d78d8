#include "narration/level.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace llorch::narration {
namespace {
constexpr std::array<std::string_view, 6> kNames{"trace", "debug", "info",
                                                 "warn",  "error", "fatal"};

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == y;
         });
}
}  // namespace

std::string_view to_string(Level level) noexcept {
  return kNames[static_cast<std::size_t>(level)];
}

std::optional<Level> parse_level(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (equals_ignoring_case(text, kNames[i])) return static_cast<Level>(i);
  }
  if (equals_ignoring_case(text, "warning")) return Level::warn;
  return std::nullopt;
}

}  // namespace llorch::narration
