// Chat messages to prompts: the template families llorch recognizes, its documented default, and
// special-token text in a rendered prompt becoming the special tokens themselves.
#include "engine/chat_template.hpp"

#include <gtest/gtest.h>

#include "engine/model.hpp"
#include "engine/tokenizer.hpp"

namespace llorch::engine {
namespace {

const std::vector<ChatMessage> kConversation{
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Bye"}};

std::string vocab_file(const char* name) {
  return std::string(LLORCH_MODELS_DIR) + "/vocab/" + name;
}

TEST(ChatTemplate, TheCommonFamiliesAreRecognizedByTheirMarkers) {
  EXPECT_EQ(detect_chat_format("{% for m in messages %}<|im_start|>{{ m.role }}"),
            ChatFormat::chatml);
  EXPECT_EQ(detect_chat_format("{{ bos_token + '[INST] ' + content + ' [/INST]' }}"),
            ChatFormat::llama2);
  EXPECT_EQ(detect_chat_format("<|start_header_id|>{{ role }}<|end_header_id|>"),
            ChatFormat::llama3);
  EXPECT_EQ(detect_chat_format("<|user|>\n{{ content }}</s>"), ChatFormat::zephyr);
  EXPECT_EQ(detect_chat_format("<|user|>{{ c }}<|end|>\n<|assistant|>"), ChatFormat::phi3);
  EXPECT_EQ(detect_chat_format("<start_of_turn>user"), ChatFormat::gemma);
  EXPECT_EQ(detect_chat_format(""), ChatFormat::plain);
  EXPECT_EQ(detect_chat_format("{{ something else }}"), ChatFormat::plain);
}

TEST(ChatTemplate, EachFamilyRendersTheWholeConversationEndingAtTheAssistantsTurn) {
  EXPECT_EQ(render_chat(ChatFormat::chatml, kConversation),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatFormat::llama2, kConversation),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
  EXPECT_EQ(render_chat(ChatFormat::llama3, {{"user", "Hi"}}),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_chat(ChatFormat::gemma, {{"system", "S"}, {"user", "Hi"}}),
            "<start_of_turn>user\nS\n\nHi<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render_chat(ChatFormat::phi3, {{"user", "Hi"}}),
            "<|user|>\nHi<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render_chat(ChatFormat::zephyr, {{"user", "Hi"}}), "<|user|>\nHi</s>\n<|assistant|>\n");
  EXPECT_EQ(render_chat(ChatFormat::plain, kConversation),
            "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: Bye\n\nAssistant:");
}

TEST(ChatTemplate, SpecialTokenTextBecomesTheTokenItselfAndPlainTextIsUnchanged) {
  const Vocabulary vocab = load_vocabulary(vocab_file("ggml-vocab-phi-3.gguf"));
  const auto tokenizer = Tokenizer::create(vocab);
  // Text without special tokens encodes exactly as encode() does.
  EXPECT_EQ(encode_with_special_tokens(*tokenizer, "Hello world", true),
            tokenizer->encode("Hello world", true));
  const auto ids =
      encode_with_special_tokens(*tokenizer, "<|user|>\nHi<|end|>\n<|assistant|>\n", true);
  const auto id_of = [&](const std::string& piece) {
    for (std::size_t i = 0; i < vocab.size(); ++i)
      if (vocab.pieces[i] == piece) return static_cast<TokenId>(i);
    return TokenId{-1};
  };
  ASSERT_GE(id_of("<|user|>"), 0);
  EXPECT_NE(std::find(ids.begin(), ids.end(), id_of("<|user|>")), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), id_of("<|end|>")), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), id_of("<|assistant|>")), ids.end());
  // encode() alone spells them out as text.
  const auto plain = tokenizer->encode("<|user|>", false);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), id_of("<|user|>")), plain.end());
}

TEST(ChatTemplate, AnSpmBosSpelledInTheTextIsTheBosToken) {
  const Vocabulary vocab = load_vocabulary(vocab_file("ggml-vocab-llama-spm.gguf"));
  const auto tokenizer = Tokenizer::create(vocab);
  const auto ids = encode_with_special_tokens(
      *tokenizer, "[INST] Hi [/INST] Hello </s><s>[INST] Bye [/INST]", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), vocab.bos);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), vocab.bos), 2);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), vocab.eos), 1);
}

}  // namespace
}  // namespace llorch::engine
