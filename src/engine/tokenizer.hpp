// Text to token ids and back, driven by the model's vocabulary.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/vocabulary.hpp"

namespace llorch::engine {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids for `text` (its exact bytes; special-token text such as "<s>" is not parsed), with
  // BOS first when `add_bos` and the vocabulary has one.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_bos) const = 0;

  // The bytes token `id` stands for: SentencePiece's U+2581 back to a space, byte tokens to their
  // byte, byte-level BPE unmapped; control tokens (BOS, EOS) are empty. A piece may be part of a
  // UTF-8 character: use StreamDecoder to print text.
  virtual std::string piece_bytes(TokenId id) const = 0;

  // Whether decoding drops the space that encode() put before the text (SentencePiece).
  virtual bool adds_space_prefix() const noexcept = 0;

  const Vocabulary& vocabulary() const noexcept { return vocab_; }

  // A tokenizer for the vocabulary's kind (SentencePiece or byte-level BPE). Throws ModelError for
  // a BPE pre-tokenizer llorch does not know.
  static std::unique_ptr<Tokenizer> create(const Vocabulary& vocab);

 protected:
  explicit Tokenizer(const Vocabulary& vocab) : vocab_(vocab) {}
  const Vocabulary& vocab_;
};

// Like tokenizer.encode(), but text that spells a control or user-defined token ("<s>",
// "<|im_start|>") becomes that token, as llama.cpp's parse_special does: for prompts rendered from
// a chat template. The text between such tokens is encoded as encode() would (SentencePiece adds
// its space prefix to each piece of text, as llama.cpp does).
std::vector<TokenId> encode_with_special_tokens(const Tokenizer& tokenizer, std::string_view text,
                                                bool add_bos);

// Turns a stream of token ids into text without ever emitting part of a UTF-8 character: bytes of
// a character split across tokens are held back until it is whole. Invalid sequences come out as
// U+FFFD, once it is certain they cannot complete.
class StreamDecoder {
 public:
  // `skip_leading_space`: drop one space at the very start (SentencePiece's prefix).
  StreamDecoder(const Tokenizer& tokenizer, bool skip_leading_space);

  // Text that became complete with this token (possibly empty).
  std::string push(TokenId id);
  // Whatever is still held back, as text (an unfinished character becomes U+FFFD).
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_leading_space_;
  std::string pending_;
};

// Decodes a whole sequence at once (same rules as StreamDecoder).
std::string decode(const Tokenizer& tokenizer, const std::vector<TokenId>& ids,
                   bool skip_leading_space);

}  // namespace llorch::engine
