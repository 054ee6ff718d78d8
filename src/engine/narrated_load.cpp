#include "engine/narrated_load.hpp"

#include <fmt/format.h>

#include <chrono>

#include "engine/arch/architecture.hpp"
#include "engine/model_error.hpp"
#include "narration/narrate.hpp"

namespace llorch::engine {

namespace {

std::string family_of(const std::string& architecture) {
  const Architecture* arch = find_architecture(architecture);
  return arch != nullptr ? std::string(arch->family) : architecture;
}

}  // namespace

namespace n = llorch::narration;

std::shared_ptr<Model> load_model_narrated(const std::string& path, const LoadOptions& options) {
  n::info(n::actor::model_loader, n::action::model_load)
      .target(path)
      .human("Loading model {}", path)
      .cute("Fetching the brain from {} 🧠", path)
      .model_ref(path)
      .emit();
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<Model> model;
  try {
    model = load_model(path, options);
  } catch (const ModelError& e) {
    n::error(n::actor::model_loader, n::action::model_load_failed)
        .target(path)
        .human("Could not load the model: {}", e.what())
        .error_kind("MODEL_LOAD_FAILED")
        .model_ref(path)
        .emit();
    throw;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  const auto& c = model->config;
  std::string types;
  for (const auto& [name, count] : model->tensor_type_counts()) {
    types += (types.empty() ? "" : ", ") + std::to_string(count) + " " + name;
  }
  const std::string repacked = model->repacked_bytes == 0
                                   ? ""
                                   : fmt::format("; {:.1f} MB repacked for the SIMD kernels",
                                                 static_cast<double>(model->repacked_bytes) / 1e6);
  n::info(n::actor::model_loader, n::action::model_load_complete)
      .target(path)
      .human(
          "Loaded {} model ({:.1f} MB, {} layers, dim {}, vocabulary {}, tensors {}{}) in {} "
          "ms",
          family_of(c.architecture), static_cast<double>(model->weight_bytes()) / 1e6, c.n_layers,
          c.dim, c.vocab_size, types, repacked, ms)
      .cute("Brain loaded: {} layers deep and ready to think! 🎓", c.n_layers)
      .memory_bytes(static_cast<std::int64_t>(model->weight_bytes()))
      .duration_ms(ms)
      .model_ref(path)
      .emit();
  return model;
}

}  // namespace llorch::engine
