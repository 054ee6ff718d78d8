// Pre-tokenizer splits for cases worked out by hand from the models' regular expressions (the
// Llama 3 vocabulary itself is not among the shared files, so its ids cannot be checked).
#include "engine/pretokenizer.hpp"

#include <gtest/gtest.h>

namespace llorch::engine {
namespace {

using Words = std::vector<std::string>;

TEST(PreTokenizer, KnowsTheNamesGgufUses) {
  EXPECT_EQ(pretokenizer_from_name("default"), PreTokenizer::gpt2);
  EXPECT_EQ(pretokenizer_from_name("gpt-2"), PreTokenizer::gpt2);
  EXPECT_EQ(pretokenizer_from_name("llama-bpe"), PreTokenizer::llama3);
  EXPECT_EQ(pretokenizer_from_name("deepseek-coder"), PreTokenizer::deepseek_coder);
  EXPECT_EQ(pretokenizer_from_name("deepseek-llm"), PreTokenizer::deepseek_llm);
  EXPECT_EQ(pretokenizer_from_name("qwen2"), PreTokenizer::qwen2);
  EXPECT_EQ(pretokenizer_from_name("no-such-tokenizer"), std::nullopt);
}

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(pretokenize(PreTokenizer::gpt2, "Hello world's 123  done!\n"),
            (Words{"Hello", " world", "'s", " 123", " ", " done", "!", "\n"}));
  EXPECT_EQ(pretokenize(PreTokenizer::gpt2, "a\n\nb"), (Words{"a", "\n", "\n", "b"}));
  EXPECT_EQ(pretokenize(PreTokenizer::gpt2, "  "), (Words{"  "}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThreeAndKeepsNewlineRuns) {
  EXPECT_EQ(pretokenize(PreTokenizer::llama3, "Hello world 1234567"),
            (Words{"Hello", " world", " ", "123", "456", "7"}));
  EXPECT_EQ(pretokenize(PreTokenizer::llama3, "I'M here.\n\n\nok"),
            (Words{"I", "'M", " here", ".\n\n\n", "ok"}));
  EXPECT_EQ(pretokenize(PreTokenizer::llama3, "x  \n  y"), (Words{"x", "  \n", " ", " y"}));
}

TEST(PreTokenizer, Qwen2TakesDigitsOneByOne) {
  EXPECT_EQ(pretokenize(PreTokenizer::qwen2, "Hello world 1234"),
            (Words{"Hello", " world", " ", "1", "2", "3", "4"}));
  EXPECT_EQ(pretokenizer_from_name("qwen2"), PreTokenizer::qwen2);
}

TEST(PreTokenizer, ConcatenationIsTheInput) {
  const std::string text = "Tom said: héllo 😊 ok\n\t 3.14159 ÄÖÜ 東京 \xff\xfe end  ";
  for (auto kind : {PreTokenizer::gpt2, PreTokenizer::llama3, PreTokenizer::qwen2,
                    PreTokenizer::deepseek_coder, PreTokenizer::deepseek_llm}) {
    std::string joined;
    for (const auto& w : pretokenize(kind, text)) joined += w;
    EXPECT_EQ(joined, text) << static_cast<int>(kind);
  }
}

}  // namespace
}  // namespace llorch::engine
