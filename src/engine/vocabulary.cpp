#include "engine/vocabulary.hpp"

#include <fmt/format.h>

#include <cstring>

#include "engine/gguf.hpp"
#include "engine/mapped_file.hpp"
#include "engine/model_error.hpp"

namespace llorch::engine {
namespace {

bool is_byte_piece(std::string_view piece) {
  return piece.size() == 6 && piece.substr(0, 3) == "<0x" && piece[5] == '>';
}

TokenId read_id(const GgufFile& file, const char* key, std::size_t vocab_size) {
  const auto id = file.get_uint(key);
  if (!id || *id == 0xFFFFFFFFu) return -1;  // absent, or ggml's "none"
  if (*id >= vocab_size) {
    throw ModelError(fmt::format("{}: {} = {} is outside the vocabulary of {} tokens", file.path(),
                                 key, *id, vocab_size));
  }
  return static_cast<TokenId>(*id);
}

}  // namespace

bool Vocabulary::is_control(TokenId id) const noexcept {
  return id >= 0 && static_cast<std::size_t>(id) < types.size() && types[id] == TokenType::control;
}

bool Vocabulary::is_end_of_generation(TokenId id) const noexcept {
  return id >= 0 && (id == eos || id == eot);
}

Vocabulary read_vocabulary(const GgufFile& file) {
  Vocabulary v;
  v.model = file.get_string("tokenizer.ggml.model").value_or("");
  if (v.model == "llama") {
    v.kind = TokenizerKind::spm;
  } else if (v.model == "gpt2") {
    v.kind = TokenizerKind::bpe;
  } else {
    throw ModelError(
        fmt::format("{}: tokenizer.ggml.model is \"{}\"; llorch reads \"llama\" (SentencePiece) "
                    "and \"gpt2\" (byte-level BPE)",
                    file.path(), v.model));
  }
  v.pre = file.get_string("tokenizer.ggml.pre").value_or("default");

  const GgufArray* tokens = file.get_array("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->strings.empty()) {
    throw ModelError(file.path() + ": tokenizer.ggml.tokens is missing or not a list of strings");
  }
  v.pieces = tokens->strings;
  const std::size_t n = v.pieces.size();

  v.scores.assign(n, 0.0f);
  if (const GgufArray* scores = file.get_array("tokenizer.ggml.scores")) {
    if (scores->reals.size() != n)
      throw ModelError(file.path() + ": tokenizer.ggml.scores does not match the token count");
    for (std::size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>(scores->reals[i]);
  }
  v.types.assign(n, TokenType::normal);
  if (const GgufArray* types = file.get_array("tokenizer.ggml.token_type")) {
    if (types->ints.size() != n)
      throw ModelError(file.path() + ": tokenizer.ggml.token_type does not match the token count");
    for (std::size_t i = 0; i < n; ++i) {
      const auto t = types->ints[i];
      v.types[i] = (t >= 1 && t <= 6) ? static_cast<TokenType>(t) : TokenType::normal;
    }
  }
  if (const GgufArray* merges = file.get_array("tokenizer.ggml.merges")) v.merges = merges->strings;
  if (v.kind == TokenizerKind::bpe && v.merges.empty()) {
    throw ModelError(file.path() + ": a gpt2 (BPE) tokenizer needs tokenizer.ggml.merges");
  }

  v.bos = read_id(file, "tokenizer.ggml.bos_token_id", n);
  v.eos = read_id(file, "tokenizer.ggml.eos_token_id", n);
  v.unk = read_id(file, "tokenizer.ggml.unknown_token_id", n);
  v.eot = read_id(file, "tokenizer.ggml.eot_token_id", n);
  v.add_bos = file.get_bool("tokenizer.ggml.add_bos_token").value_or(v.kind == TokenizerKind::spm);
  v.add_space_prefix =
      file.get_bool("tokenizer.ggml.add_space_prefix").value_or(v.kind == TokenizerKind::spm);
  return v;
}

Vocabulary read_llama2c_vocabulary(const std::string& path, std::size_t vocab_size) {
  const MappedFile file(path);
  const auto bytes = file.bytes();
  std::size_t pos = 0;
  const auto take = [&](void* out, std::size_t n, const char* what) {
    if (n > bytes.size() - pos) {
      throw ModelError(
          fmt::format("{}: llama2.c tokenizer is truncated reading {} (byte {})", path, what, pos));
    }
    std::memcpy(out, bytes.data() + pos, n);
    pos += n;
  };
  std::uint32_t max_length = 0;
  take(&max_length, 4, "the header");

  Vocabulary v;
  v.model = "llama";
  v.pieces.resize(vocab_size);
  v.scores.resize(vocab_size);
  v.types.assign(vocab_size, TokenType::normal);
  for (std::size_t i = 0; i < vocab_size; ++i) {
    float score = 0;
    std::int32_t length = 0;
    take(&score, 4, "a score");
    take(&length, 4, "a piece length");
    if (length < 0 ||
        static_cast<std::uint32_t>(length) > std::max<std::uint32_t>(max_length, 64)) {
      throw ModelError(fmt::format("{}: token {} has an invalid length {}", path, i, length));
    }
    std::string piece(static_cast<std::size_t>(length), '\0');
    take(piece.data(), piece.size(), "a piece");
    std::string mapped;
    for (char c : piece) {
      if (c == ' ') {
        mapped += kSentencePieceSpace;
      } else {
        mapped += c;
      }
    }
    v.pieces[i] = std::move(mapped);
    v.scores[i] = score;
    if (is_byte_piece(piece)) v.types[i] = TokenType::byte;
  }
  if (vocab_size > 2) {
    // llama.cpp's converter wrote these three as "\n<s>\n" style; they are the control tokens.
    v.pieces[0] = "<unk>";
    v.pieces[1] = "<s>";
    v.pieces[2] = "</s>";
    v.types[0] = TokenType::unknown;
    v.types[1] = v.types[2] = TokenType::control;
    v.unk = 0;
    v.bos = 1;
    v.eos = 2;
  }
  return v;
}

}  // namespace llorch::engine
