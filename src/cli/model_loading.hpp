// Loading a model for a CLI command, narrated, with the options every command shares.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "engine/model.hpp"

namespace llorch::cli {

struct ModelOptions {
  std::string path;
  std::string tokenizer;    // llama2.c checkpoints only
  std::size_t context = 0;  // 0: the model's own
};

// Declares --model (required), --tokenizer and --ctx on `command`.
void add_model_options(CLI::App& command, ModelOptions& options);

// Declares -t,--threads (1-256) on `command`.
void add_threads_option(CLI::App& command, std::size_t& threads);

// Loads the model and narrates the load (started, completed with size and time).
// Throws engine::ModelError.
std::shared_ptr<engine::Model> load_narrated(const ModelOptions& options);

// Runs `body`, turning the errors a user can cause into one line on stderr and exit code 1.
int run_reporting_errors(const std::function<int()>& body);

}  // namespace llorch::cli
