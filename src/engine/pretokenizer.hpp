// Byte-level BPE pre-tokenizers: how a text is cut into words before merges, one per
// tokenizer.ggml.pre value, following the regular expressions of the models' own tokenizers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llorch::engine {

enum class PreTokenizer { gpt2, llama3, qwen2, deepseek_coder, deepseek_llm };

// "default", "gpt-2", "llama-bpe" (also "llama3"), "qwen2", "deepseek-coder", "deepseek-llm".
std::optional<PreTokenizer> pretokenizer_from_name(std::string_view name) noexcept;

// The words of `text`, in order; their concatenation is `text`.
std::vector<std::string> pretokenize(PreTokenizer kind, std::string_view text);

}  // namespace llorch::engine
