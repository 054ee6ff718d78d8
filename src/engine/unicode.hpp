// The few Unicode facts tokenizers need: code points from UTF-8 and character categories (ICU).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llorch::engine::unicode {

// Decodes UTF-8; an invalid byte becomes its own code point in 0xDC80..0xDCFF (a lone surrogate
// that encode_utf8 turns back into the same byte), so no input byte is ever lost.
std::vector<char32_t> decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(const std::vector<char32_t>& cps, std::size_t begin, std::size_t end);

bool is_letter(char32_t cp) noexcept;       // \p{L}
bool is_number(char32_t cp) noexcept;       // \p{N}
bool is_punctuation(char32_t cp) noexcept;  // \p{P}
bool is_whitespace(char32_t cp) noexcept;   // \s: the Unicode White_Space property

}  // namespace llorch::engine::unicode
