// Tokenizers against Hugging Face's ids for llama.cpp's test strings (shared/models/vocab), plus
// round trips on the same strings.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/model.hpp"
#include "engine/tokenizer.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

using testing::models_dir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split_inputs(const std::string& all) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t at; (at = all.find(separator, start)) != std::string::npos;
       start = at + separator.size()) {
    out.push_back(all.substr(start, at - start));
  }
  return out;
}

std::vector<std::vector<TokenId>> read_expected(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<TokenId>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<TokenId> ids;
    for (TokenId id; fields >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

class VocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, EncodesLikeHuggingFaceAndRoundTrips) {
  const std::string base = models_dir() + "/vocab/ggml-vocab-" + GetParam() + ".gguf";
  const Vocabulary vocab = load_vocabulary(base);
  const auto tokenizer = Tokenizer::create(vocab);
  const auto inputs = split_inputs(read_all(base + ".inp"));
  const auto expected = read_expected(base + ".out");
  ASSERT_GE(inputs.size(), 40u);
  ASSERT_GE(expected.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE("input " + std::to_string(i) + ": \"" + inputs[i] + "\"");
    const auto ids = tokenizer->encode(inputs[i], false);
    EXPECT_EQ(ids, expected[i]);
    EXPECT_EQ(decode(*tokenizer, ids, tokenizer->adds_space_prefix()), inputs[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(SharedVocabularies, VocabVectors,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-coder",
                                           "deepseek-llm"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Tokenizer, AddsBosWhenAskedAndTheVocabularyHasOne) {
  const auto vocab = load_vocabulary(models_dir() + "/vocab/ggml-vocab-llama-spm.gguf");
  const auto tokenizer = Tokenizer::create(vocab);
  EXPECT_EQ(tokenizer->encode("Hello world", true), (std::vector<TokenId>{1, 15043, 3186}));
  EXPECT_EQ(tokenizer->encode("", true), (std::vector<TokenId>{1}));
  EXPECT_TRUE(tokenizer->encode("", false).empty());
}

TEST(Tokenizer, Llama2cTokenizerFileMatchesRunCEncode) {
  // run.c's ids for "Tom said: héllo 😊 ok": byte fallback for the emoji (bytes + 3).
  const auto model = load_model(models_dir() + "/llama2c/stories260K.bin");
  const auto tokenizer = Tokenizer::create(model->vocab);
  const auto ref = testing::read_reference(models_dir() + "/reference/stories260K.utf8_n48.txt");
  EXPECT_EQ(tokenizer->encode(*ref.prompt, true), ref.prompt_ids);
}

TEST(Tokenizer, SpecialTokenTextIsNotParsed) {
  const auto vocab = load_vocabulary(models_dir() + "/vocab/ggml-vocab-llama-spm.gguf");
  const auto tokenizer = Tokenizer::create(vocab);
  const auto ids = tokenizer->encode("<s>", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), vocab.bos), 0);
}

}  // namespace
}  // namespace llorch::engine
