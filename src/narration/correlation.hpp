// Correlation ids (one per request, across every process) and W3C trace context.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llorch::narration {

// 1–64 characters of [A-Za-z0-9._:-].
bool is_valid_correlation_id(std::string_view candidate) noexcept;

// A random RFC 4122 version-4 UUID, lower-case ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx").
std::string generate_uuid_v4();

struct CorrelationId {
  std::string value;
  bool generated = false;  // true when the caller's id was absent or invalid
};

// The caller's id when it is valid; otherwise a new UUIDv4, and a debug event that says why.
CorrelationId resolve_correlation_id(std::optional<std::string_view> candidate);

// W3C Trace Context `traceparent` (version-traceid-parentid-flags).
struct TraceParent {
  std::uint8_t version = 0;
  std::string trace_id;   // 32 lower-case hex digits, not all zero
  std::string parent_id;  // 16 lower-case hex digits, not all zero
  std::uint8_t flags = 0;

  bool sampled() const noexcept { return (flags & 0x01) != 0; }
  std::string to_string() const;  // the header value, version 00
  bool operator==(const TraceParent&) const = default;
};

// nullopt for anything the spec says to ignore: wrong lengths or separators, upper-case or
// non-hex digits, all-zero ids, version ff, or a version-00 header with trailing data.
std::optional<TraceParent> parse_traceparent(std::string_view header) noexcept;

}  // namespace llorch::narration
