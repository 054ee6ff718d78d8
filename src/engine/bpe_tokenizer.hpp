// Byte-level BPE tokenizer (GGUF tokenizer.ggml.model = "gpt2"): pre-tokenize into words, map
// each byte to a printable character (GPT-2's byte-to-unicode table), merge by rank.
#pragma once

#include <array>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/pretokenizer.hpp"
#include "engine/tokenizer.hpp"

namespace llorch::engine {

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(const Vocabulary& vocab);
  std::vector<TokenId> encode(std::string_view text, bool add_bos) const override;
  std::string piece_bytes(TokenId id) const override;
  bool adds_space_prefix() const noexcept override { return false; }

 private:
  void encode_word(const std::string& word, std::vector<TokenId>& out) const;

  PreTokenizer pre_;
  bool ignore_merges_;  // Llama 3: a word that is a token is taken whole
  std::unordered_map<std::string, TokenId> ids_;
  std::unordered_map<std::string, int> ranks_;  // "left right" -> merge rank
  std::array<std::string, 256> byte_to_char_;   // UTF-8 of the mapped character
  std::unordered_map<char32_t, unsigned char> char_to_byte_;
  // User-defined tokens ("added tokens"), matched in the raw text before pre-tokenization, as
  // Hugging Face tokenizers do; by first byte, longest first.
  std::array<std::vector<std::pair<std::string, TokenId>>, 256> user_defined_;
};

}  // namespace llorch::engine
