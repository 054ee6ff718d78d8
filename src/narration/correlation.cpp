#include "narration/correlation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "narration/narrate.hpp"
#include "narration/secure_random.hpp"

namespace llorch::narration {
namespace {

bool is_id_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool is_lower_hex(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_all_zero(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

std::uint8_t hex_byte(std::string_view two) noexcept {
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  return static_cast<std::uint8_t>(nibble(two[0]) * 16 + nibble(two[1]));
}

}  // namespace

bool is_valid_correlation_id(std::string_view candidate) noexcept {
  return !candidate.empty() && candidate.size() <= 64 &&
         std::all_of(candidate.begin(), candidate.end(), is_id_char);
}

std::string generate_uuid_v4() {
  // From the kernel's CSPRNG: task ids are capabilities (whoever knows one can follow the task).
  std::uint64_t high = secure_random_u64();
  std::uint64_t low = secure_random_u64();
  high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;    // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xFFFF,
                     high & 0xFFFF, low >> 48, low & 0xFFFFFFFFFFFFULL);
}

CorrelationId resolve_correlation_id(std::optional<std::string_view> candidate) {
  if (candidate && is_valid_correlation_id(*candidate)) return {std::string(*candidate), false};
  CorrelationId id{generate_uuid_v4(), true};
  debug(actor::narration, action::correlation_generated)
      .target(id.value)
      .correlation_id(id.value)
      .human("Generated correlation id {} because the caller {}", id.value,
             candidate ? "sent one that is not 1-64 characters of [A-Za-z0-9._:-]" : "sent none")
      .emit();
  return id;
}

std::string TraceParent::to_string() const {
  return fmt::format("00-{}-{}-{:02x}", trace_id, parent_id, flags);
}

std::optional<TraceParent> parse_traceparent(std::string_view header) noexcept {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55 characters.
  if (header.size() < 55) return std::nullopt;
  const std::string_view version = header.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  const std::string_view trace_id = header.substr(3, 32);
  const std::string_view parent_id = header.substr(36, 16);
  const std::string_view flags = header.substr(53, 2);
  if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags))
    return std::nullopt;
  if (is_all_zero(trace_id) || is_all_zero(parent_id)) return std::nullopt;
  // Version 00 is exactly 55 characters; later versions may append "-…".
  if (version == "00" ? header.size() != 55 : (header.size() > 55 && header[55] != '-')) {
    return std::nullopt;
  }
  try {
    return TraceParent{hex_byte(version), std::string(trace_id), std::string(parent_id),
                       hex_byte(flags)};
  } catch (...) {
    return std::nullopt;  // allocation failure: treat the header as absent
  }
}

}  // namespace llorch::narration
