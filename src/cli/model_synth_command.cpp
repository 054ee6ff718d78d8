// `llorch model synth`: a GGUF of a real model's shape with random weights, for measuring speed.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "cli/commands.hpp"
#include "cli/model_loading.hpp"
#include "engine/synth.hpp"
#include "narration/terminal.hpp"

namespace llorch::cli {

std::function<int()> add_model_synth_subcommand(CLI::App& model) {
  auto* synth = model.add_subcommand(
      "synth", "Write a GGUF of a known model's shape with random weights and a real tokenizer");
  struct Options {
    std::string shape = "tinyllama";
    std::string type = "q4_0";
    engine::SynthOptions synth;
    engine::SynthShape custom{"custom", 0, 0, 0, 0, 0, 2048};
  };
  auto o = std::make_shared<Options>();
  synth->add_option("--shape", o->shape, "tinyllama, stories15m, stories110m or custom")
      ->capture_default_str()
      ->check(CLI::IsMember({"tinyllama", "stories15m", "stories110m", "custom"}));
  synth
      ->add_option("--type", o->type,
                   "Type of the weight matrices (q4_k_m, q5_k_m: llama.cpp's medium mixes)")
      ->capture_default_str()
      ->check(CLI::IsMember(
          {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q4_k_m", "q5_k", "q5_k_m", "q6_k"}));
  synth
      ->add_option("--vocab", o->synth.vocab_path,
                   "GGUF whose tokenizer is copied (e.g. ../shared/models/vocab/"
                   "ggml-vocab-llama-spm.gguf)")
      ->required()
      ->check(CLI::ExistingFile);
  synth->add_option("-o,--output", o->synth.output_path, "GGUF file to write")->required();
  synth->add_option("--seed", o->synth.seed, "Seed of the random weights")->capture_default_str();
  synth->add_option("--dim", o->custom.dim, "custom: embedding size");
  synth->add_option("--hidden", o->custom.hidden_dim, "custom: feed-forward size");
  synth->add_option("--layers", o->custom.n_layers, "custom: layers");
  synth->add_option("--heads", o->custom.n_heads, "custom: attention heads");
  synth->add_option("--kv-heads", o->custom.n_kv_heads, "custom: KV heads (default: heads)");
  synth->add_option("--ctx", o->custom.context_length, "custom: context length")
      ->capture_default_str();
  return [o, synth]() -> int {
    if (!synth->parsed()) return -1;
    return run_reporting_errors([&] {
      engine::SynthOptions options = o->synth;
      if (o->shape == "custom") {
        if (o->custom.n_kv_heads == 0) o->custom.n_kv_heads = o->custom.n_heads;
        options.shape = o->custom;
      } else {
        options.shape = *engine::known_synth_shape(o->shape);
      }
      options.medium_mix = o->type.ends_with("_m");
      const std::string base = options.medium_mix ? o->type.substr(0, o->type.size() - 2) : o->type;
      for (auto type :
           {engine::TensorType::f32, engine::TensorType::f16, engine::TensorType::bf16,
            engine::TensorType::q8_0, engine::TensorType::q4_0, engine::TensorType::q4_k,
            engine::TensorType::q5_k, engine::TensorType::q6_k}) {
        if (engine::traits(type).name == base) options.type = type;
      }
      const auto started = std::chrono::steady_clock::now();
      const bool tty = narration::is_capable_terminal(STDERR_FILENO);
      int shown = -1;
      const auto report = engine::synthesize_model(options, [&](double done) {
        const int percent = static_cast<int>(done * 100);
        if (tty && percent != shown)
          fmt::print(stderr, "\rwriting {}: {}%", options.output_path, percent);
        shown = percent;
      });
      if (tty) fmt::print(stderr, "\r\x1b[K");
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      fmt::print(
          "{}: {} shape, {} weights, {} tensors, vocabulary {}, {:.1f} MB of weights "
          "({:.1f} s){}\n",
          options.output_path, options.shape.name, o->type, report.tensors, report.vocab_size,
          static_cast<double>(report.bytes) / 1e6, seconds,
          report.fallback_tensors > 0
              ? fmt::format("; {} tensor(s) whose rows are not whole 256-value "
                            "super-blocks stored as q8_0",
                            report.fallback_tensors)
              : "");
      return 0;
    });
  };
}

}  // namespace llorch::cli
