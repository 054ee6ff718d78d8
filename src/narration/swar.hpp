// SWAR ("SIMD within a register") tests on eight bytes at once, for the byte scans every event
// goes through (escaping, sanitizing, the redaction pre-filter). Portable: no intrinsics.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace llorch::narration::swar {

inline constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
inline constexpr std::uint64_t kHigh = 0x8080808080808080ULL;

inline std::uint64_t load(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// High bit set in each byte of `w` that is zero. Exact when used to test for "any".
inline std::uint64_t zero_bytes(std::uint64_t w) noexcept {
  return (w - kOnes) & ~w & kHigh;
}

// High bit set in each byte equal to `c` (any-test exact).
inline std::uint64_t bytes_equal(std::uint64_t w, unsigned char c) noexcept {
  return zero_bytes(w ^ (kOnes * c));
}

// High bit set in each byte below `n` (n <= 0x80), for words with no byte >= 0x80.
inline std::uint64_t bytes_below(std::uint64_t w, unsigned char n) noexcept {
  return (w - kOnes * n) & ~w & kHigh;
}

}  // namespace llorch::narration::swar
