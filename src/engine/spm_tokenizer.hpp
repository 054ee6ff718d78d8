// SentencePiece-style tokenizer (GGUF tokenizer.ggml.model = "llama"): score-ordered merges of
// adjacent pieces, a space prefix, U+2581 for spaces, and byte fallback for unknown characters.
#pragma once

#include <array>
#include <unordered_map>

#include "engine/tokenizer.hpp"

namespace llorch::engine {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(const Vocabulary& vocab);
  std::vector<TokenId> encode(std::string_view text, bool add_bos) const override;
  std::string piece_bytes(TokenId id) const override;
  bool adds_space_prefix() const noexcept override { return vocab_.add_space_prefix; }

 private:
  std::unordered_map<std::string, TokenId> ids_;
  std::array<TokenId, 256> byte_tokens_{};  // "<0xXX>" ids, or unk
};

}  // namespace llorch::engine
