#include "narration/text_safety.hpp"

#include <cstdint>

#include "narration/swar.hpp"

namespace llorch::narration {
namespace {

// Decodes one UTF-8 character at `p`. Returns its length and sets `cp`, or returns the length of
// the maximal invalid subsequence (at least 1) and sets `cp` to -1 (Unicode §3.9, "U+FFFD
// substitution of maximal subparts").
std::size_t decode(std::string_view s, std::size_t i, std::int32_t& cp) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  cp = -1;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 1;
  }
  std::int32_t value = b0 & (0xFF >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) return k;
    const unsigned char b = byte(i + k);
    const unsigned char min = k == 1 ? lo : 0x80;
    const unsigned char max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) return k;
    value = (value << 6) | (b & 0x3F);
  }
  cp = value;
  return len;
}

bool is_unsafe_code_point(std::int32_t cp) noexcept {
  if (cp < 0x20 || cp == 0x7F) return true;
  if (cp >= 0x80 && cp <= 0x9F) return true;      // C1 controls
  if (cp >= 0x202A && cp <= 0x202E) return true;  // bidi embeddings and overrides
  if (cp >= 0x2066 && cp <= 0x2069) return true;  // bidi isolates
  if (cp == 0x2028 || cp == 0x2029) return true;  // line and paragraph separators
  return false;
}

// Printable ASCII only (0x20..0x7E)? Eight bytes at a time: this is the hot path of every event.
bool is_plain_ascii(std::string_view text) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    const std::uint64_t w = swar::load(text.data() + i);
    if ((w & swar::kHigh) != 0) return false;  // a byte >= 0x80
    if ((swar::bytes_below(w, 0x20) | swar::bytes_equal(w, 0x7F)) != 0) return false;
  }
  for (; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b >= 0x7F) return false;
  }
  return true;
}

}  // namespace

CharCheck check_char(std::string_view text, std::size_t i) noexcept {
  std::int32_t cp = 0;
  const std::size_t length = decode(text, i, cp);
  const bool blank = cp == '\t' || cp == '\n' || cp == '\r';
  return {length, cp >= 0 && !is_unsafe_code_point(cp), blank};
}

bool is_safe(std::string_view text) noexcept {
  if (is_plain_ascii(text)) return true;
  for (std::size_t i = 0; i < text.size();) {
    const CharCheck c = check_char(text, i);
    if (!c.safe) return false;
    i += c.length;
  }
  return true;
}

void sanitize(std::string& text) {
  if (text.empty() || is_safe(text)) return;
  std::string out;
  out.reserve(text.size() + 8);
  const std::string_view in = text;
  for (std::size_t i = 0; i < in.size();) {
    const CharCheck c = check_char(in, i);
    if (c.safe) {
      out.append(in.substr(i, c.length));
    } else if (c.blank) {
      out.push_back(' ');
    } else {
      out.append(kReplacementCharacter);
    }
    i += c.length;
  }
  text = std::move(out);
}

void sanitize_keeping_lines(std::string& text) {
  if (is_safe(text)) return;
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find('\n', start);
    std::string piece =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    sanitize(piece);
    out += piece;
    if (end == std::string::npos) break;
    out += '\n';
    start = end + 1;
  }
  text = std::move(out);
}

}  // namespace llorch::narration
