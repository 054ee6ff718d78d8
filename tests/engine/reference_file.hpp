// Reads the reference outputs in shared/models/reference (their format is described in
// shared/models/README.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/vocabulary.hpp"

namespace llorch::engine::testing {

inline std::string models_dir() {
  return LLORCH_MODELS_DIR;
}

struct Margin {
  double margin;
  std::size_t position;
};

struct ReferenceCase {
  std::string name;
  std::optional<std::string> prompt;  // nullopt: generation starts from BOS alone
  std::vector<TokenId> prompt_ids;
  std::vector<TokenId> generated_ids;
  std::vector<Margin> margins;  // the smallest top1-top2 margins the file lists
  std::string stdout_text;      // run.c's stdout, JSON-unescaped ("" if absent)

  // How many generated ids a greedy engine in fp32 must reproduce: those sampled before the first
  // position whose margin is below `min_margin` (fragile beyond it).
  std::size_t robust_count(double min_margin) const;
};

ReferenceCase read_reference(const std::string& file);

}  // namespace llorch::engine::testing
