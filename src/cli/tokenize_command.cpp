// `llorch tokenize`: the token ids of a text (or a file's exact bytes), space-separated.
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/model_loading.hpp"
#include "engine/model_error.hpp"
#include "engine/tokenizer.hpp"
#include "narration/setup.hpp"

namespace llorch::cli {
namespace {

struct TokenizeOptions {
  ModelOptions model;
  std::string text;
  std::string file;
  bool no_bos = false;
};

int run_tokenize(const TokenizeOptions& o) {
  narration::install_narrator_on(
      STDERR_FILENO, {.component = "llorch-tokenize"},
      narration::Level::fatal);  // output is the answer; errors come as one line
  std::string text = o.text;
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in)
      throw std::invalid_argument("cannot read " + o.file + ": check the path and its permissions");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    text = bytes.str();
  }
  engine::LoadOptions load;
  load.tokenizer_path = o.model.tokenizer;
  const engine::Vocabulary vocab = engine::load_vocabulary(o.model.path, load);
  const auto tokenizer = engine::Tokenizer::create(vocab);
  fmt::print("{}\n", fmt::join(tokenizer->encode(text, !o.no_bos), " "));
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& app) {
  auto* command = app.add_subcommand("tokenize", "Print the token ids of a text");
  auto o = std::make_shared<TokenizeOptions>();
  add_model_options(*command, o->model);
  command->add_flag("--no-bos", o->no_bos, "Do not start with the BOS token");
  auto* file = command->add_option("-f,--file", o->file, "Tokenize this file's exact bytes");
  auto* text = command->add_option("text", o->text, "Text to tokenize");
  file->excludes(text);
  text->excludes(file);
  command->callback([command] {
    if (command->count("--file") == 0 && command->count("text") == 0) {
      throw CLI::ValidationError("tokenize", "give the TEXT to tokenize, or --file PATH");
    }
  });
  return {command, [o] { return run_reporting_errors([&] { return run_tokenize(*o); }); }};
}

}  // namespace llorch::cli
