// `llorch model info PATH`: what a model file holds — architecture, shapes, tensor types,
// tokenizer, sizes.
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/model_loading.hpp"
#include "narration/setup.hpp"

namespace llorch::cli {
namespace {

int run_info(const ModelOptions& o, bool all_metadata) {
  narration::install_narrator_on(
      STDERR_FILENO, {.component = "llorch-model"},
      narration::Level::fatal);  // output is the answer; errors come as one line
  const auto model = load_narrated(o);
  const auto& c = model->config;
  const auto& v = model->vocab;
  fmt::print("file            {}\n", model->path);
  fmt::print("format          {}\n", model->format);
  fmt::print("size            {:.2f} MB file, {:.2f} MB of weights\n",
             static_cast<double>(model->file_bytes) / 1e6,
             static_cast<double>(model->weight_bytes()) / 1e6);
  fmt::print("architecture    {}\n", c.architecture);
  fmt::print("layers          {}\n", c.n_layers);
  fmt::print("embedding       {}\n", c.dim);
  fmt::print("feed-forward    {}\n", c.hidden_dim);
  fmt::print("heads           {} ({} KV heads, head size {})\n", c.n_heads, c.n_kv_heads,
             c.head_dim());
  fmt::print("context         {}\n", c.context_length);
  fmt::print("rope            {} dimensions, base {}, {} pairs{}\n", c.rope_dims, c.rope_freq_base,
             c.rope_style == engine::RopeStyle::neox ? "NEOX" : "adjacent",
             model->rope_freqs.present() ? ", per-frequency divisors" : "");
  if (c.n_experts > 0)
    fmt::print("experts         {} per layer, {} used per token\n", c.n_experts, c.n_experts_used);
  fmt::print("rms epsilon     {}\n", c.rms_eps);
  fmt::print("output          {}\n",
             model->tied_output ? "tied to the token embedding" : "separate matrix");
  std::vector<std::string> types;
  for (const auto& [name, count] : model->tensor_type_counts())
    types.push_back(fmt::format("{} × {}", count, name));
  fmt::print("tensor types    {}\n", fmt::join(types, ", "));
  fmt::print("tokenizer       {} ({}), {} tokens{}\n",
             v.kind == engine::TokenizerKind::spm ? "SentencePiece" : "byte-level BPE", v.model,
             v.size(),
             v.kind == engine::TokenizerKind::bpe ? fmt::format(", pre-tokenizer {}", v.pre) : "");
  fmt::print("special tokens  bos {}, eos {}, unk {}{}\n", v.bos, v.eos, v.unk,
             v.add_bos ? " (adds BOS)" : "");
  if (all_metadata) {
    fmt::print("metadata\n");
    for (const auto& [key, value] : model->metadata) fmt::print("  {} = {}\n", key, value);
  }
  return 0;
}

}  // namespace

Command add_model_command(CLI::App& app) {
  auto* command = app.add_subcommand("model", "Inspect model files");
  command->require_subcommand(1);
  auto* info =
      command->add_subcommand("info", "Architecture, shapes, tensor types, tokenizer and sizes");
  auto o = std::make_shared<ModelOptions>();
  auto all = std::make_shared<bool>(false);
  info->add_option("path", o->path, "Model file: GGUF, or a llama2.c checkpoint")->required();
  info->add_option("--tokenizer", o->tokenizer, "Tokenizer file for a llama2.c checkpoint");
  info->add_flag("--metadata", *all, "Also list every metadata key");
  auto synth = add_model_synth_subcommand(*command);
  return {command, [o, all, synth, info] {
            if (!info->parsed()) return synth();
            return run_reporting_errors([&] { return run_info(*o, *all); });
          }};
}

}  // namespace llorch::cli
