// Emission timestamps: RFC 3339, UTC, millisecond precision ("2025-10-09T13:31:30.123Z").
#pragma once

#include <chrono>
#include <string>

namespace llorch::narration {

std::string format_timestamp(std::chrono::system_clock::time_point when);
std::string now_timestamp();

}  // namespace llorch::narration
