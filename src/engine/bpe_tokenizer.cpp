#include "engine/bpe_tokenizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <queue>

#include "engine/model_error.hpp"
#include "engine/unicode.hpp"

namespace llorch::engine {
namespace {

struct Symbol {
  std::string text;
  int prev;
  int next;
};

struct Pair {
  int rank;
  int left;
  int right;
  std::string merged;
  // Lowest rank first; on a tie the leftmost pair.
  bool operator<(const Pair& o) const { return rank > o.rank || (rank == o.rank && left > o.left); }
};

}  // namespace

BpeTokenizer::BpeTokenizer(const Vocabulary& vocab) : Tokenizer(vocab) {
  const auto pre = pretokenizer_from_name(vocab.pre);
  if (!pre) {
    throw ModelError(
        fmt::format("tokenizer.ggml.pre = \"{}\" is a pre-tokenizer llorch does not know (it "
                    "knows default, gpt-2, llama-bpe, deepseek-coder, deepseek-llm)",
                    vocab.pre));
  }
  pre_ = *pre;
  ignore_merges_ = pre_ == PreTokenizer::llama3;
  ids_.reserve(vocab.size());
  for (std::size_t i = 0; i < vocab.size(); ++i)
    ids_.emplace(vocab.pieces[i], static_cast<TokenId>(i));
  ranks_.reserve(vocab.merges.size());
  for (std::size_t i = 0; i < vocab.merges.size(); ++i)
    ranks_.emplace(vocab.merges[i], static_cast<int>(i));

  for (std::size_t i = 0; i < vocab.size(); ++i) {
    const std::string& piece = vocab.pieces[i];
    if (vocab.types[i] == TokenType::user_defined && !piece.empty()) {
      user_defined_[static_cast<unsigned char>(piece[0])].emplace_back(piece,
                                                                       static_cast<TokenId>(i));
    }
  }
  for (auto& list : user_defined_) {
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }

  // GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the others to U+0100….
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable =
        (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
    unicode::append_utf8(byte_to_char_[b], cp);
    char_to_byte_[cp] = static_cast<unsigned char>(b);
  }
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<TokenId> out;
  if (add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  // Cut the text at user-defined tokens; the stretches between them are pre-tokenized.
  std::size_t plain = 0;
  const auto flush = [&](std::size_t end) {
    if (plain < end) {
      for (const std::string& word : pretokenize(pre_, text.substr(plain, end - plain)))
        encode_word(word, out);
    }
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto& candidates = user_defined_[static_cast<unsigned char>(text[i])];
    const auto match = std::find_if(candidates.begin(), candidates.end(), [&](const auto& c) {
      return text.substr(i, c.first.size()) == c.first;
    });
    if (match == candidates.end()) {
      ++i;
      continue;
    }
    flush(i);
    out.push_back(match->second);
    i += match->first.size();
    plain = i;
  }
  flush(text.size());
  return out;
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<TokenId>& out) const {
  std::string mapped;
  std::vector<Symbol> symbols;
  for (char c : word) {
    const std::string& m = byte_to_char_[static_cast<unsigned char>(c)];
    mapped += m;
  }
  if (ignore_merges_) {
    if (const auto it = ids_.find(mapped); it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // One symbol per mapped character (each byte maps to exactly one character).
  for (char c : word) {
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({byte_to_char_[static_cast<unsigned char>(c)], index - 1, index + 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Pair> queue;
  const auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const auto it = ranks_.find(symbols[left].text + " " + symbols[right].text);
    if (it == ranks_.end()) return;
    queue.push({it->second, left, right, symbols[left].text + symbols[right].text});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_pair(i - 1, i);
  while (!queue.empty()) {
    const Pair best = queue.top();
    queue.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    if (left.text.empty() || right.text.empty() || left.next != best.right ||
        left.text.size() + right.text.size() != best.merged.size()) {
      continue;  // stale
    }
    left.text = best.merged;
    right.text.clear();
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = best.left;
    try_pair(left.prev, best.left);
    try_pair(best.left, left.next);
  }
  for (int i = 0; i >= 0; i = symbols[i].next) {
    const auto it = ids_.find(symbols[i].text);
    if (it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    // Not in the vocabulary after all merges: fall back to one token per mapped byte character.
    for (char32_t cp : unicode::decode_utf8(symbols[i].text)) {
      std::string one;
      unicode::append_utf8(one, cp);
      const auto byte_it = ids_.find(one);
      if (byte_it != ids_.end()) {
        out.push_back(byte_it->second);
      } else if (vocab_.unk >= 0) {
        out.push_back(vocab_.unk);
      }
    }
  }
}

std::string BpeTokenizer::piece_bytes(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) return {};
  const TokenType type = vocab_.types[id];
  if (type == TokenType::control || type == TokenType::unused) return {};
  const std::string& piece = vocab_.pieces[id];
  if (type == TokenType::user_defined) return piece;
  std::string out;
  for (char32_t cp : unicode::decode_utf8(piece)) {
    const auto it = char_to_byte_.find(cp);
    if (it != char_to_byte_.end()) {
      out += static_cast<char>(it->second);
    } else {
      unicode::append_utf8(out, cp);
    }
  }
  return out;
}

}  // namespace llorch::engine
