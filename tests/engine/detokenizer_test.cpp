#include <gtest/gtest.h>

#include "engine/model.hpp"
#include "engine/tokenizer.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

using testing::models_dir;

TEST(StreamDecoder, HoldsASplitCharacterUntilItIsWhole) {
  const auto model = load_model(models_dir() + "/gguf/stories260K.gguf");
  const auto tokenizer = Tokenizer::create(model->vocab);
  StreamDecoder decoder(*tokenizer, false);
  // 😊 = F0 9F 98 8A, as byte-fallback tokens (byte + 3).
  EXPECT_EQ(decoder.push(0xF0 + 3), "");
  EXPECT_EQ(decoder.push(0x9F + 3), "");
  EXPECT_EQ(decoder.push(0x98 + 3), "");
  EXPECT_EQ(decoder.push(0x8A + 3), "😊");
  EXPECT_EQ(decoder.finish(), "");
}

TEST(StreamDecoder, NeverEmitsBrokenUtf8) {
  const auto model = load_model(models_dir() + "/gguf/stories260K.gguf");
  const auto tokenizer = Tokenizer::create(model->vocab);
  StreamDecoder decoder(*tokenizer, false);
  std::string out;
  out += decoder.push(0xE2 + 3);  // starts a 3-byte character …
  out += decoder.push('A' + 3);   // … that an ASCII byte interrupts
  out += decoder.push(0xFF + 3);  // a byte that starts nothing
  out += decoder.push(0xC3 + 3);  // an unfinished 2-byte character at the end
  out += decoder.finish();
  EXPECT_EQ(out,
            "\xEF\xBF\xBD"
            "A"
            "\xEF\xBF\xBD"
            "\xEF\xBF\xBD");
}

TEST(StreamDecoder, DropsTheSentencePiecePrefixSpaceOnlyWhenAsked) {
  const auto vocab = load_vocabulary(models_dir() + "/vocab/ggml-vocab-llama-spm.gguf");
  const auto tokenizer = Tokenizer::create(vocab);
  const auto ids = tokenizer->encode("Hello world", false);
  EXPECT_EQ(decode(*tokenizer, ids, true), "Hello world");
  EXPECT_EQ(decode(*tokenizer, ids, false), " Hello world");
}

TEST(StreamDecoder, ControlTokensPrintNothing) {
  const auto vocab = load_vocabulary(models_dir() + "/vocab/ggml-vocab-llama-spm.gguf");
  const auto tokenizer = Tokenizer::create(vocab);
  EXPECT_EQ(tokenizer->piece_bytes(vocab.bos), "");
  EXPECT_EQ(tokenizer->piece_bytes(vocab.eos), "");
  EXPECT_EQ(tokenizer->piece_bytes(-1), "");
  EXPECT_EQ(tokenizer->piece_bytes(1 << 30), "");
}

// A file's token types are its own word: a "byte" token whose piece is not <0xHH> decodes as its
// text instead of throwing out of the decoder (found by fuzz.gguf).
TEST(StreamDecoder, AByteTokenThatIsNotHexDecodesAsText) {
  Vocabulary vocab;
  vocab.pieces = {"<unk>", "<0x41>", "<0xZZ>", "<0x4>>"};
  vocab.scores = {0.0f, 0.0f, 0.0f, 0.0f};
  vocab.types = {TokenType::unknown, TokenType::byte, TokenType::byte, TokenType::byte};
  vocab.unk = 0;
  const auto tokenizer = Tokenizer::create(vocab);
  EXPECT_EQ(tokenizer->piece_bytes(1), "A");
  EXPECT_EQ(tokenizer->piece_bytes(2), "<0xZZ>");
  EXPECT_EQ(tokenizer->piece_bytes(3), "<0x4>>");
  EXPECT_EQ(decode(*tokenizer, {1, 2}, false), "A<0xZZ>");
}

}  // namespace
}  // namespace llorch::engine
