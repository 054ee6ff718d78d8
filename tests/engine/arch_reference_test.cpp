// Every architecture and weight type in shared/models/arch against llama.cpp's outputs (its
// README): the prompt's token ids equal; at every prompt position the reference's top-10 logits
// within the type's tolerance of ours; greedy tokens equal up to the first step whose recorded
// margin is below the type's noise.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/forward.hpp"
#include "engine/model.hpp"
#include "engine/tokenizer.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

using nlohmann::json;

struct ArchCase {
  std::string file;
  double logit_tolerance;    // 0.05 for float weights, 0.5 for quantized ones
  double greedy_min_margin;  // 0.1 for float weights, 0.5 for quantized ones
};

std::string arch_dir() {
  return testing::models_dir() + "/arch";
}

std::vector<ArchCase> cases() {
  std::vector<ArchCase> out;
  for (const char* name :
       {"tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-phi3", "tiny-mixtral", "tiny-gemma2",
        "tiny-gemma3", "tiny-llama-types-f32", "tiny-llama-types-f16"}) {
    out.push_back({name, 0.05, 0.1});
  }
  for (const char* name :
       {"tiny-llama-types-q8_0", "tiny-llama-types-q4_0", "tiny-llama-types-q4_1",
        "tiny-llama-types-q5_0", "tiny-llama-types-q5_1", "tiny-llama-types-q2_k",
        "tiny-llama-types-q3_k_m", "tiny-llama-types-q4_k_m", "tiny-llama-types-q5_k_m",
        "tiny-llama-types-q6_k", "tiny-llama-types-iq4_nl", "tiny-llama-types-iq4_xs"}) {
    out.push_back({name, 0.5, 0.5});
  }
  return out;
}

class ArchReference : public ::testing::TestWithParam<ArchCase> {};

TEST_P(ArchReference, MatchesLlamaCpp) {
  const ArchCase& c = GetParam();
  const auto model = load_model(arch_dir() + "/" + c.file + ".gguf");
  const auto tokenizer = Tokenizer::create(model->vocab);
  std::ifstream lines(arch_dir() + "/reference/" + c.file + ".jsonl");
  ASSERT_TRUE(lines) << "missing reference for " << c.file;
  std::size_t prompts = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const json ref = json::parse(line);
    const std::string prompt = ref["prompt"];
    SCOPED_TRACE(c.file + " case " + ref.value("case", std::string()));
    ++prompts;
    const auto ids = tokenizer->encode(prompt, model->vocab.add_bos);
    ASSERT_EQ(ids, ref["prompt_ids"].get<std::vector<TokenId>>());

    // llama.cpp's reference ran with an F16 KV cache; both cache types must match it.
    ModelState f16_state(model, 2, TensorType::f16);
    const auto f16_all = f16_state.forward_batch_all(ids, 0);
    std::vector<float> f16_logits(f16_all.begin(), f16_all.end());
    ModelState state(model, 2);
    const auto all = state.forward_batch_all(ids, 0);
    const std::size_t vocab = model->config.vocab_size;
    double worst = 0.0;
    for (std::size_t p = 0; p < ids.size(); ++p) {
      for (const auto& pair : ref["prompt_top10"][p]) {
        const auto id = pair[0].get<std::size_t>();
        const double diff = std::abs(all[p * vocab + id] - pair[1].get<double>());
        const double f16_diff = std::abs(f16_logits[p * vocab + id] - pair[1].get<double>());
        worst = std::max({worst, diff, f16_diff});
        EXPECT_LE(diff, c.logit_tolerance) << "position " << p << " token " << id;
        EXPECT_LE(f16_diff, c.logit_tolerance) << "F16 cache, position " << p << " token " << id;
      }
    }
    RecordProperty(ref.value("case", std::string("case")) + "_worst_logit_diff",
                   std::to_string(worst));

    // Greedy continuation, one token at a time after the prompt.
    std::vector<float> logits(all.end() - static_cast<std::ptrdiff_t>(vocab), all.end());
    std::size_t pos = ids.size();
    for (const auto& step : ref["greedy"]) {
      const auto expected = step[0].get<TokenId>();
      const double margin = step[1].get<double>();
      const auto best =
          static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      if (margin < c.greedy_min_margin) break;  // beyond here the order is noise
      ASSERT_EQ(best, expected) << "greedy step at position " << pos;
      const auto next = state.forward(best, pos++);
      logits.assign(next.begin(), next.end());
    }
  }
  EXPECT_GT(prompts, 0u);
}

INSTANTIATE_TEST_SUITE_P(Files, ArchReference, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) {
                           std::string name = param_info.param.file;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace llorch::engine
