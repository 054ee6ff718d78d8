// Loading a model with its narration (started; completed with size, shape and time).
#pragma once

#include <memory>
#include <string>

#include "engine/model.hpp"

namespace llorch::engine {

// Throws ModelError like load_model, after narrating the failure.
std::shared_ptr<Model> load_model_narrated(const std::string& path,
                                           const LoadOptions& options = {});

}  // namespace llorch::engine
