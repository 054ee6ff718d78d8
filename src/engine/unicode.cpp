#include "engine/unicode.hpp"

#include <unicode/uchar.h>

namespace llorch::engine::unicode {
namespace {
constexpr char32_t kRawByteBase = 0xDC80;  // lone surrogates: never produced by valid UTF-8
}  // namespace

std::vector<char32_t> decode_utf8(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      n = 1;
      cp = b0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = 2;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      n = 3;
      cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      n = 4;
      cp = b0 & 0x07;
    }
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    ok = ok && !(n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) &&
         !(n == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    if (ok) {
      out.push_back(cp);
      i += n;
    } else {
      out.push_back(kRawByteBase + (b0 & 0x7F));
      i += 1;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp >= kRawByteBase && cp < kRawByteBase + 0x80) {
    out += static_cast<char>(0x80 | (cp - kRawByteBase));
  } else if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string encode_utf8(const std::vector<char32_t>& cps, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) append_utf8(out, cps[i]);
  return out;
}

namespace {
// ICU's U_GET_GC_MASK, without its C casts.
std::uint32_t category_mask(char32_t cp) noexcept {
  return std::uint32_t{1} << static_cast<unsigned>(u_charType(static_cast<UChar32>(cp)));
}
}  // namespace

bool is_letter(char32_t cp) noexcept {
  return (category_mask(cp) & U_GC_L_MASK) != 0;
}
bool is_number(char32_t cp) noexcept {
  return (category_mask(cp) & U_GC_N_MASK) != 0;
}
bool is_punctuation(char32_t cp) noexcept {
  return (category_mask(cp) & U_GC_P_MASK) != 0;
}
bool is_whitespace(char32_t cp) noexcept {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE) != 0;
}

}  // namespace llorch::engine::unicode
