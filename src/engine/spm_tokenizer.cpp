#include "engine/spm_tokenizer.hpp"

#include <fmt/format.h>

#include <charconv>
#include <queue>
#include <system_error>

namespace llorch::engine {
namespace {

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;  // a stray continuation or invalid byte stands alone (and falls back to bytes)
}

struct Symbol {
  std::size_t start;
  std::size_t length;  // 0 once merged into its left neighbour
  int prev;
  int next;
};

struct Bigram {
  float score;
  int left;
  int right;
  std::size_t length;
  // Highest score first; on a tie the leftmost pair (as SentencePiece and run.c do).
  bool operator<(const Bigram& o) const {
    return score < o.score || (score == o.score && left > o.left);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(const Vocabulary& vocab) : Tokenizer(vocab) {
  ids_.reserve(vocab.size());
  for (std::size_t i = 0; i < vocab.size(); ++i)
    ids_.emplace(vocab.pieces[i], static_cast<TokenId>(i));
  for (int b = 0; b < 256; ++b) {
    const auto it = ids_.find(fmt::format("<0x{:02X}>", b));
    byte_tokens_[b] = it != ids_.end() ? it->second : vocab.unk;
  }
}

std::vector<TokenId> SpmTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<TokenId> out;
  if (add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  if (text.empty()) return out;

  std::string s;
  s.reserve(text.size() * 3 + 3);
  if (vocab_.add_space_prefix) s += kSentencePieceSpace;
  for (char c : text) {
    if (c == ' ') {
      s += kSentencePieceSpace;
    } else {
      s += c;
    }
  }

  std::vector<Symbol> symbols;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(s[i])), s.size() - i);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({i, n, index - 1, index + 1});
    i += n;
  }
  symbols.back().next = -1;

  std::priority_queue<Bigram> queue;
  const auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::size_t length = symbols[left].length + symbols[right].length;
    const auto it = ids_.find(s.substr(symbols[left].start, length));
    if (it == ids_.end()) return;
    queue.push({vocab_.scores[it->second], left, right, length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Bigram best = queue.top();
    queue.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    // Skip pairs made stale by an earlier merge.
    if (left.length == 0 || right.length == 0 || left.length + right.length != best.length)
      continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = best.left;
    try_pair(left.prev, best.left);
    try_pair(best.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& sym = symbols[i];
    const auto it = ids_.find(s.substr(sym.start, sym.length));
    if (it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (std::size_t b = 0; b < sym.length; ++b) {
      const TokenId id = byte_tokens_[static_cast<unsigned char>(s[sym.start + b])];
      if (id >= 0) out.push_back(id);
    }
  }
  return out;
}

std::string SpmTokenizer::piece_bytes(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) return {};
  const TokenType type = vocab_.types[id];
  if (type == TokenType::control || type == TokenType::unused) return {};
  const std::string& piece = vocab_.pieces[id];
  if (type == TokenType::byte && piece.size() == 6) {
    // <0xHH>. A file may call any six-character piece a byte token: one that is not <0xHH> is
    // text like any other piece (std::stoi threw on it, out of a worker's decode loop).
    unsigned value = 0;
    const char* digits = piece.data() + 3;
    const auto [end, error] = std::from_chars(digits, digits + 2, value, 16);
    if (error == std::errc() && end == digits + 2) return std::string(1, static_cast<char>(value));
  }
  std::string out;
  out.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSentencePieceSpace.size(), kSentencePieceSpace) == 0) {
      out += ' ';
      i += kSentencePieceSpace.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

}  // namespace llorch::engine
