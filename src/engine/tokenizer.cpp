#include "engine/tokenizer.hpp"

#include <algorithm>
#include <array>

#include "engine/bpe_tokenizer.hpp"
#include "engine/spm_tokenizer.hpp"

namespace llorch::engine {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the UTF-8 sequence that `lead` starts; 0 for a byte that cannot start one.
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool is_continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::create(const Vocabulary& vocab) {
  if (vocab.kind == TokenizerKind::bpe) return std::make_unique<BpeTokenizer>(vocab);
  return std::make_unique<SpmTokenizer>(vocab);
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_leading_space)
    : tokenizer_(tokenizer), skip_leading_space_(skip_leading_space) {}

std::string StreamDecoder::push(TokenId id) {
  pending_ += tokenizer_.piece_bytes(id);
  if (skip_leading_space_ && !pending_.empty()) {
    if (pending_[0] == ' ') pending_.erase(0, 1);
    skip_leading_space_ = false;
  }
  // Emit every complete character; keep an unfinished one at the end for the next token.
  std::string out;
  std::size_t i = 0;
  while (i < pending_.size()) {
    const auto lead = static_cast<unsigned char>(pending_[i]);
    const std::size_t n = sequence_length(lead);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    std::size_t have = 1;
    while (have < n && i + have < pending_.size() &&
           is_continuation(static_cast<unsigned char>(pending_[i + have]))) {
      ++have;
    }
    if (have == n) {
      out.append(pending_, i, n);
      i += n;
    } else if (i + have == pending_.size()) {
      break;  // may still complete with the next token
    } else {
      out += kReplacement;  // cut short by a byte that cannot continue it
      i += have;
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  if (!pending_.empty()) out = kReplacement;
  pending_.clear();
  return out;
}

std::string decode(const Tokenizer& tokenizer, const std::vector<TokenId>& ids,
                   bool skip_leading_space) {
  StreamDecoder decoder(tokenizer, skip_leading_space);
  std::string text;
  for (TokenId id : ids) text += decoder.push(id);
  return text + decoder.finish();
}

std::vector<TokenId> encode_with_special_tokens(const Tokenizer& tokenizer, std::string_view text,
                                                bool add_bos) {
  const Vocabulary& vocab = tokenizer.vocabulary();
  // Candidates by first byte, longest first, so that "<|im_start|>" wins over a shorter prefix.
  std::array<std::vector<std::pair<std::string_view, TokenId>>, 256> by_first{};
  for (std::size_t id = 0; id < vocab.size(); ++id) {
    const TokenType type = id < vocab.types.size() ? vocab.types[id] : TokenType::normal;
    const std::string& piece = vocab.pieces[id];
    if ((type != TokenType::control && type != TokenType::user_defined) || piece.empty()) continue;
    by_first[static_cast<unsigned char>(piece[0])].emplace_back(piece, static_cast<TokenId>(id));
  }
  for (auto& list : by_first) {
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }
  std::vector<TokenId> out = tokenizer.encode("", add_bos);
  std::size_t start = 0;
  const auto flush_text = [&](std::size_t end) {
    if (end > start) {
      const auto ids = tokenizer.encode(text.substr(start, end - start), false);
      out.insert(out.end(), ids.begin(), ids.end());
    }
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto& candidates = by_first[static_cast<unsigned char>(text[i])];
    const auto match = std::find_if(candidates.begin(), candidates.end(), [&](const auto& c) {
      return text.substr(i, c.first.size()) == c.first;
    });
    if (match == candidates.end()) {
      ++i;
      continue;
    }
    flush_text(i);
    out.push_back(match->second);
    i += match->first.size();
    start = i;
  }
  flush_text(text.size());
  return out;
}

}  // namespace llorch::engine
