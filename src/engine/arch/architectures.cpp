#include <array>

#include "engine/arch/architecture.hpp"

namespace llorch::engine {

namespace {

const std::array<const Architecture*, 6> kAll{&kGemma2, &kGemma3, &kLlama,
                                              &kPhi3,   &kQwen2,  &kQwen3};

}  // namespace

std::span<const Architecture* const> architectures() {
  return kAll;
}

const Architecture* find_architecture(std::string_view name) {
  for (const Architecture* a : kAll)
    if (a->name == name) return a;
  return nullptr;
}

std::string supported_architectures() {
  std::string names;
  for (const Architecture* a : kAll) names += (names.empty() ? "" : ", ") + std::string(a->name);
  return names;
}

std::optional<double> arch_real(const GgufFile& file, const ModelConfig& config,
                                std::string_view suffix) {
  return file.get_real(config.architecture + "." + std::string(suffix));
}

std::optional<std::uint64_t> arch_uint(const GgufFile& file, const ModelConfig& config,
                                       std::string_view suffix) {
  return file.get_uint(config.architecture + "." + std::string(suffix));
}

}  // namespace llorch::engine
