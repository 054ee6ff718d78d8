// A model's vocabulary as its file describes it: pieces, scores, token types, merges, special ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llorch::engine {

class GgufFile;

using TokenId = std::int32_t;

// SentencePiece writes a space as U+2581 LOWER ONE EIGHTH BLOCK in its pieces.
inline constexpr std::string_view kSentencePieceSpace = "\xE2\x96\x81";

enum class TokenizerKind { spm, bpe };

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : std::int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6
};

struct Vocabulary {
  TokenizerKind kind = TokenizerKind::spm;
  std::string model;                // tokenizer.ggml.model: "llama", "gpt2"
  std::string pre = "default";      // tokenizer.ggml.pre: pre-tokenizer name (BPE)
  std::vector<std::string> pieces;  // SPM pieces use U+2581 for a space; BPE pieces are byte-mapped
  std::vector<float> scores;        // SPM merge priorities (higher merges first)
  std::vector<TokenType> types;
  std::vector<std::string> merges;  // BPE: "left right", in rank order
  TokenId bos = -1;
  TokenId eos = -1;
  TokenId unk = -1;
  TokenId eot = -1;
  bool add_bos = true;
  bool add_space_prefix = true;

  std::size_t size() const noexcept { return pieces.size(); }
  bool is_control(TokenId id) const noexcept;
  // True for tokens that end generation: EOS, EOT.
  bool is_end_of_generation(TokenId id) const noexcept;
};

// Reads tokenizer.ggml.* from a GGUF file. Throws ModelError for missing or inconsistent data.
Vocabulary read_vocabulary(const GgufFile& file);

// Reads a llama2.c tokenizer file (tokenizer.bin, tok512.bin: u32 max length, then per token
// f32 score, i32 length, bytes) and describes it as the SentencePiece vocabulary it came from:
// spaces become U+2581, ids 0/1/2 are <unk>/<s>/</s>, "<0xXX>" pieces are byte tokens.
Vocabulary read_llama2c_vocabulary(const std::string& path, std::size_t vocab_size);

}  // namespace llorch::engine
