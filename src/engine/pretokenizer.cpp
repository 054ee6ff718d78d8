#include "engine/pretokenizer.hpp"

#include <functional>

#include "engine/unicode.hpp"

namespace llorch::engine {
namespace {

using Cps = std::vector<char32_t>;
using unicode::is_letter;
using unicode::is_number;
using unicode::is_punctuation;
using unicode::is_whitespace;

// A word is [begin, end) in code points.
struct Span {
  std::size_t begin;
  std::size_t end;
};

char32_t lower_ascii(char32_t c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

// Length of an English contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
std::size_t contraction(const Cps& c, std::size_t i, bool ignore_case) {
  if (c[i] != '\'' || i + 1 >= c.size()) return 0;
  const auto at = [&](std::size_t k) {
    return k < c.size() ? (ignore_case ? lower_ascii(c[k]) : c[k]) : 0;
  };
  const char32_t a = at(i + 1), b = at(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// \s+(?!\S) then \s+ : a whitespace run, leaving its last character to the next word when a
// non-space follows (so " word" keeps its space).
std::size_t whitespace_run(const Cps& c, std::size_t i) {
  std::size_t j = i;
  while (j < c.size() && is_whitespace(c[j])) ++j;
  if (j < c.size() && j - i > 1) --j;
  return j - i;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<Span> split_gpt2(const Cps& c) {
  std::vector<Span> out;
  const auto other = [](char32_t x) { return !is_whitespace(x) && !is_letter(x) && !is_number(x); };
  for (std::size_t i = 0; i < c.size();) {
    std::size_t n = contraction(c, i, false);
    if (n == 0) {
      const std::size_t s = (c[i] == ' ' && i + 1 < c.size()) ? 1 : 0;
      const char32_t first = c[i + s];
      const std::function<bool(char32_t)> cls =
          is_letter(first)   ? std::function<bool(char32_t)>(is_letter)
          : is_number(first) ? std::function<bool(char32_t)>(is_number)
          : other(first)     ? std::function<bool(char32_t)>(other)
                             : nullptr;
      if (cls && (s == 0 || !is_whitespace(first))) {
        std::size_t j = i + s;
        while (j < c.size() && cls(c[j])) ++j;
        n = j - i;
      } else {
        n = whitespace_run(c, i);
      }
    }
    out.push_back({i, i + n});
    i += n;
  }
  return out;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+ — Qwen 2's is the same with \p{N} alone (`max_digits` 1).
std::vector<Span> split_llama3(const Cps& c, std::size_t max_digits) {
  std::vector<Span> out;
  const auto newline = [](char32_t x) { return x == '\r' || x == '\n'; };
  const auto other = [](char32_t x) { return !is_whitespace(x) && !is_letter(x) && !is_number(x); };
  for (std::size_t i = 0; i < c.size();) {
    std::size_t n = contraction(c, i, true);
    const auto at = [&](std::size_t k) -> char32_t { return k < c.size() ? c[k] : 0; };
    if (n == 0) {
      // [^\r\n\p{L}\p{N}]?\p{L}+
      const bool lead = !newline(c[i]) && !is_letter(c[i]) && !is_number(c[i]) &&
                        i + 1 < c.size() && is_letter(c[i + 1]);
      if (is_letter(c[i]) || lead) {
        std::size_t j = i + (lead ? 1 : 0);
        while (j < c.size() && is_letter(c[j])) ++j;
        n = j - i;
      } else if (is_number(c[i])) {
        std::size_t j = i;
        while (j < c.size() && j - i < max_digits && is_number(c[j])) ++j;
        n = j - i;
      } else if (other(c[i]) || (c[i] == ' ' && other(at(i + 1)))) {
        std::size_t j = i + (c[i] == ' ' ? 1 : 0);
        while (j < c.size() && other(c[j])) ++j;
        while (j < c.size() && newline(c[j])) ++j;
        n = j - i;
      } else {
        // whitespace: \s*[\r\n]+ takes a run that ends in newlines; else the gpt2 rule
        std::size_t j = i;
        std::size_t last_newline = 0;
        while (j < c.size() && is_whitespace(c[j])) {
          if (newline(c[j])) last_newline = j + 1;
          ++j;
        }
        n = last_newline > i ? last_newline - i : whitespace_run(c, i);
      }
    }
    out.push_back({i, i + n});
    i += n;
  }
  return out;
}

// The DeepSeek pre-tokenizers are cascades: each rule cuts every current piece into its matches
// and the text between them, as the models' `Split` pre-tokenizers (and llama.cpp) do.
struct Rule {
  std::function<bool(char32_t)> cls;
  bool optional_space = false;     // a leading \s?
  std::size_t max_repeat = 0;      // 0: unbounded (+); 1: single character
  bool whitespace_at_end = false;  // the rule \s+$
};

std::vector<Span> apply_rule(const Cps& c, const std::vector<Span>& pieces, const Rule& rule) {
  std::vector<Span> out;
  for (const Span& p : pieces) {
    std::size_t gap = p.begin;
    std::size_t i = p.begin;
    const auto emit = [&](std::size_t begin, std::size_t end) {
      if (gap < begin) out.push_back({gap, begin});
      out.push_back({begin, end});
      gap = end;
    };
    if (rule.whitespace_at_end) {
      std::size_t j = p.end;
      while (j > p.begin && is_whitespace(c[j - 1])) --j;
      if (j < p.end) emit(j, p.end);
    } else {
      while (i < p.end) {
        std::size_t start = i;
        if (rule.optional_space && is_whitespace(c[i]) && i + 1 < p.end && rule.cls(c[i + 1]))
          start = i + 1;
        if (!rule.cls(c[start])) {
          ++i;
          continue;
        }
        std::size_t j = start;
        while (j < p.end && rule.cls(c[j]) && (rule.max_repeat == 0 || j - start < rule.max_repeat))
          ++j;
        emit(i, j);
        i = j;
      }
    }
    if (gap < p.end) out.push_back({gap, p.end});
  }
  return out;
}

bool in_ranges(char32_t x, std::initializer_list<std::pair<char32_t, char32_t>> ranges) {
  for (const auto& [lo, hi] : ranges) {
    if (x >= lo && x <= hi) return true;
  }
  return false;
}

bool is_cjk(char32_t x) {
  return in_ranges(x, {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}});
}
bool is_newline(char32_t x) {
  return x == '\r' || x == '\n';
}

// DeepSeek-LLM's letter class: Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee and other
// cased scripts, spelled out as ranges in its tokenizer.json.
bool is_deepseek_letter(char32_t x) {
  return in_ranges(
      x, {{'A', 'Z'},         {'a', 'z'},         {0xB5, 0xB5},       {0xC0, 0xD6},
          {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
          {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
          {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
          {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
          {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
          {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
          {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
          {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
          {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
          {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
          {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
          {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
          {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
          {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
          {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
          {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
          {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
          {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
          {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
          {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943}});
}

bool is_deepseek_symbol(char32_t x) {
  return in_ranges(x, {{'!', '/'},
                       {':', '~'},
                       {0xFF01, 0xFF0F},
                       {0xFF1A, 0xFF5E},
                       {0x2018, 0x201F},
                       {0x3000, 0x3002}});
}

std::vector<Span> cascade(const Cps& c, const std::vector<Rule>& rules) {
  std::vector<Span> pieces{{0, c.size()}};
  for (const Rule& rule : rules) pieces = apply_rule(c, pieces, rule);
  return pieces;
}

}  // namespace

std::optional<PreTokenizer> pretokenizer_from_name(std::string_view name) noexcept {
  if (name == "default" || name == "gpt-2" || name == "gpt2" || name.empty())
    return PreTokenizer::gpt2;
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return PreTokenizer::llama3;
  if (name == "qwen2") return PreTokenizer::qwen2;
  if (name == "deepseek-coder") return PreTokenizer::deepseek_coder;
  if (name == "deepseek-llm") return PreTokenizer::deepseek_llm;
  return std::nullopt;
}

std::vector<std::string> pretokenize(PreTokenizer kind, std::string_view text) {
  const Cps c = unicode::decode_utf8(text);
  if (c.empty()) return {};
  std::vector<Span> spans;
  switch (kind) {
    case PreTokenizer::gpt2:
      spans = split_gpt2(c);
      break;
    case PreTokenizer::llama3:
      spans = split_llama3(c, 3);
      break;
    case PreTokenizer::qwen2:
      spans = split_llama3(c, 1);
      break;
    case PreTokenizer::deepseek_coder:
      spans = cascade(c, {{is_newline, false, 1},
                          {is_letter, true},
                          {is_punctuation, true},
                          {is_cjk},
                          {is_number, false, 1}});
      break;
    case PreTokenizer::deepseek_llm:
      spans = cascade(c, {{is_newline, false, 1},
                          {is_deepseek_letter, true},
                          {is_deepseek_symbol, true},
                          {nullptr, false, 0, true},
                          {is_cjk},
                          {is_number}});
      break;
  }
  std::vector<std::string> words;
  words.reserve(spans.size());
  for (const Span& s : spans) {
    if (s.begin < s.end) words.push_back(unicode::encode_utf8(c, s.begin, s.end));
  }
  return words;
}

}  // namespace llorch::engine
