// Severity levels of narration events and their names on the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace llorch::narration {

enum class Level : std::uint8_t { trace, debug, info, warn, error, fatal };

std::string_view to_string(Level level) noexcept;

// Accepts the names to_string() produces, case-insensitively, plus "warning". nullopt otherwise.
std::optional<Level> parse_level(std::string_view text) noexcept;

}  // namespace llorch::narration
