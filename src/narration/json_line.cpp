#include "narration/json_line.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "narration/swar.hpp"
#include "narration/text_safety.hpp"

namespace llorch::narration {
namespace {

// Escapes and sanitizes in one pass, so the line is valid JSON whatever bytes `text` holds.
void append_escaped(std::string& out, std::string_view text) {
  out.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size();) {
    // Fast path: eight bytes of printable ASCII with no quote or backslash pass untouched.
    if (i + 8 <= text.size()) {
      const std::uint64_t w = swar::load(text.data() + i);
      if ((w & swar::kHigh) == 0 &&
          (swar::bytes_below(w, 0x20) | swar::bytes_equal(w, '"') | swar::bytes_equal(w, '\\') |
           swar::bytes_equal(w, 0x7F)) == 0) {
        i += 8;
        continue;
      }
    }
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0x20 && b < 0x7F) {
      if (b == '"' || b == '\\') {
        out.append(text.substr(run, i - run));
        out.push_back('\\');
        run = i;  // the quote or backslash itself is copied with the next run
      }
      ++i;
      continue;
    }
    const CharCheck c = check_char(text, i);
    if (!c.safe) {
      out.append(text.substr(run, i - run));
      out.append(c.blank ? std::string_view(" ") : kReplacementCharacter);
      run = i + c.length;
    }
    i += c.length;
  }
  out.append(text.substr(run));
  out.push_back('"');
}

// `key` is the whole `,"name":` prefix, a literal at every call site.
void append_key(std::string& out, std::string_view key) {
  out.append(key);
}

void append_text(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  append_escaped(out, value);
}

void append_integer(std::string& out, std::string_view key, std::int64_t value) {
  append_key(out, key);
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void append_real(std::string& out, std::string_view key, double value) {
  append_key(out, key);
  if (!std::isfinite(value)) {
    out.append("null");  // JSON has no NaN or infinity
    return;
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// Reads an optional field of the expected type. Absent or null: stays unset. Wrong type: false.
template <typename T>
bool read_optional(const nlohmann::json& object, const char* key, std::optional<T>& field) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return false;
  } else if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) return false;
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > std::uint64_t{INT64_MAX})
      return false;
  } else {
    if (!it->is_number()) return false;
  }
  field = it->get<T>();
  return true;
}

bool read_text(const nlohmann::json& object, const char* key, std::string& field, bool required) {
  const auto it = object.find(key);
  if (it == object.end()) return !required;
  if (!it->is_string()) return false;
  field = it->get<std::string>();
  return true;
}

}  // namespace

void append_json(std::string& out, const Event& event) {
  out.append("{\"ts\":");
  append_escaped(out, event.ts);
  append_text(out, ",\"level\":", to_string(event.level));
  append_text(out, ",\"actor\":", event.actor);
  append_text(out, ",\"action\":", event.action);
  append_text(out, ",\"target\":", event.target);
  append_text(out, ",\"human\":", event.human);
  if (!event.cute.empty()) append_text(out, ",\"cute\":", event.cute);
  if (!event.story.empty()) append_text(out, ",\"story\":", event.story);
  if (!event.correlation_id.empty()) append_text(out, ",\"correlation_id\":", event.correlation_id);
  if (!event.job_id.empty()) append_text(out, ",\"job_id\":", event.job_id);
  if (!event.worker_id.empty()) append_text(out, ",\"worker_id\":", event.worker_id);
  if (!event.pool_id.empty()) append_text(out, ",\"pool_id\":", event.pool_id);
#define LLORCH_WRITE_TEXT(name) \
  if (event.name) append_text(out, ",\"" #name "\":", *event.name);
#define LLORCH_WRITE_INTEGER(name) \
  if (event.name) append_integer(out, ",\"" #name "\":", *event.name);
#define LLORCH_WRITE_REAL(name) \
  if (event.name) append_real(out, ",\"" #name "\":", *event.name);
  LLORCH_NARRATION_TEXT_FIELDS(LLORCH_WRITE_TEXT)
  LLORCH_NARRATION_INTEGER_FIELDS(LLORCH_WRITE_INTEGER)
  LLORCH_NARRATION_REAL_FIELDS(LLORCH_WRITE_REAL)
#undef LLORCH_WRITE_TEXT
#undef LLORCH_WRITE_INTEGER
#undef LLORCH_WRITE_REAL
  append_text(out, ",\"emitted_by\":", event.emitted_by);
  out.push_back('}');
}

std::string to_json_line(const Event& event) {
  std::string line;
  line.reserve(256);
  append_json(line, event);
  return line;
}

ParsedLine parse_line(std::string_view line) {
  std::string_view body = line;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
  const RawLine raw{std::string(body)};

  const auto object = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return raw;

  Event event;
  std::string level;
  const bool ok = read_text(object, "actor", event.actor, true) &&
                  read_text(object, "action", event.action, true) &&
                  read_text(object, "human", event.human, true) &&
                  read_text(object, "level", level, true) &&
                  read_text(object, "target", event.target, false) &&
                  read_text(object, "cute", event.cute, false) &&
                  read_text(object, "story", event.story, false) &&
                  read_text(object, "correlation_id", event.correlation_id, false) &&
                  read_text(object, "job_id", event.job_id, false) &&
                  read_text(object, "worker_id", event.worker_id, false) &&
                  read_text(object, "pool_id", event.pool_id, false) &&
                  read_text(object, "ts", event.ts, false) &&
                  read_text(object, "emitted_by", event.emitted_by, false)
#define LLORCH_READ_FIELD(name) &&read_optional(object, #name, event.name)
                      LLORCH_NARRATION_TEXT_FIELDS(LLORCH_READ_FIELD)
                          LLORCH_NARRATION_INTEGER_FIELDS(LLORCH_READ_FIELD)
                              LLORCH_NARRATION_REAL_FIELDS(LLORCH_READ_FIELD);
#undef LLORCH_READ_FIELD
  if (!ok) return raw;
  const auto parsed_level = parse_level(level);
  if (!parsed_level) return raw;
  event.level = *parsed_level;
  return event;
}

}  // namespace llorch::narration
