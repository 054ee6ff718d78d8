// `llorch bench`: prompt-processing and generation speed of a model, llama-bench style — median
// and spread over repetitions — plus how close generation comes to the memory-bandwidth limit.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "cli/commands.hpp"
#include "cli/cpu_info.hpp"
#include "cli/model_loading.hpp"
#include "cli/read_bandwidth.hpp"
#include "engine/forward.hpp"
#include "engine/simd_kernels.hpp"
#include "narration/setup.hpp"

namespace llorch::cli {
namespace {

struct BenchOptions {
  ModelOptions model;
  std::size_t prompt = 512;
  std::size_t generate = 128;
  std::size_t threads = 0;
  std::size_t batch = 64;     // prompt tokens per forward pass, as the generator runs a prompt
  std::size_t sequences = 1;  // >1: generation of that many sequences in one batch
  std::size_t depth = 0;      // generation starts after this many positions (llama-bench's -d)
  std::string kv_type = "f32";
  int repetitions = 5;
  double bandwidth_gbps = 0;  // 0: measure it now (read_bandwidth.hpp)
  std::string kernels;        // a kernel target to force ("" : the best this CPU runs)
  bool json = false;
};

struct Figure {
  double median = 0;
  double low = 0;   // slowest repetition
  double high = 0;  // fastest repetition
};

Figure summarize(std::vector<double> rates) {
  std::sort(rates.begin(), rates.end());
  const std::size_t n = rates.size();
  const double median = n % 2 == 1 ? rates[n / 2] : (rates[n / 2 - 1] + rates[n / 2]) / 2;
  return {median, rates.front(), rates.back()};
}

// Tokens per second of `count` forward steps from position `start`, feeding `tokens` in order.
// Tokens/s of `count` steps of one token each (generation), or of the same tokens in batches of
// `batch` (prompt processing, as the generator runs a prompt).
double run_steps(engine::ModelState& state, const std::vector<engine::TokenId>& tokens,
                 std::size_t start, std::size_t count, std::size_t batch = 1) {
  const auto begin = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; i += batch) {
    const std::size_t n = std::min(batch, count - i);
    (void)state.forward_batch(std::span<const engine::TokenId>(tokens).subspan(start + i, n),
                              start + i);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return static_cast<double>(count) / seconds;
}

// Aggregate tokens/s of `count` steps in which each of `caches.size()` sequences generates one
// token (the worker's engine loop with that many users, llama-batched-bench's figure). Each
// sequence is first given a prompt of 8 tokens of its own.
double run_parallel_steps(engine::ModelState& state,
                          std::vector<std::unique_ptr<engine::KvCache>>& caches,
                          const std::vector<engine::TokenId>& tokens, std::size_t count) {
  constexpr std::size_t kPrompt = 8;
  std::vector<engine::SequenceTokens> parts;
  for (std::size_t s = 0; s < caches.size(); ++s) {
    caches[s]->clear();
    parts.push_back(
        {caches[s].get(), std::span<const engine::TokenId>(tokens).subspan(s % 8, kPrompt), 0});
  }
  (void)state.forward_sequences(parts);
  const auto begin = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t s = 0; s < parts.size(); ++s)
      parts[s] = {caches[s].get(), std::span<const engine::TokenId>(tokens).subspan(i + s, 1),
                  kPrompt + i};
    (void)state.forward_sequences(parts);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return static_cast<double>(count * caches.size()) / seconds;
}

// The targets this CPU runs, best first, as "AVX3_DL, AVX3, AVX2, SSE4, SCALAR".
std::string runnable_targets() {
  std::string names;
  for (const auto& target : engine::simd_targets())
    names += fmt::format("{}{}", names.empty() ? "" : ", ", target.name);
  return names;
}

int run_bench(BenchOptions o) {
  narration::install_narrator_on(STDERR_FILENO, {.component = "llorch-bench"},
                                 narration::Level::warn);
  if (!o.kernels.empty()) (void)engine::force_simd_target(o.kernels);  // validated by the parser
  const std::string target(engine::simd_target_name());
  const CpuInfo cpu = read_cpu_info();
  const std::size_t threads =
      o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  if (o.model.context == 0)
    o.model.context = std::max<std::size_t>(o.depth + o.prompt + o.generate + 8, 16);
  const auto model = load_narrated(o.model);
  const engine::TensorType kv_type = o.kv_type == "q8_0"  ? engine::TensorType::q8_0
                                     : o.kv_type == "f16" ? engine::TensorType::f16
                                                          : engine::TensorType::f32;
  engine::ModelState state(model, threads, kv_type);

  // Deterministic token ids from the whole vocabulary: the speed does not depend on them.
  std::mt19937 rng(1234);
  std::vector<engine::TokenId> tokens(o.depth + o.prompt + o.generate + o.sequences + 16);
  for (auto& t : tokens) t = static_cast<engine::TokenId>(rng() % model->config.vocab_size);

  // The host's bandwidth moves while we run (a shared VM): read it before and after the runs and
  // take the better, so that the limit is what this machine gave at its best.
  const bool measured = o.bandwidth_gbps <= 0 && o.generate > 0;
  const double bandwidth_before = measured ? measure_read_bandwidth_gbps(threads) : 0.0;
  (void)run_steps(state, tokens, 0, std::min<std::size_t>(8, o.prompt + o.generate));  // warm-up
  std::vector<double> pp, tg;
  // Parallel sequences share one paged pool, as in the worker.
  std::unique_ptr<engine::KvBlockPool> pool;
  std::vector<std::unique_ptr<engine::KvCache>> caches;
  if (o.sequences > 1) {
    pool = std::make_unique<engine::KvBlockPool>(model->config, engine::TensorType::f16,
                                                 o.sequences * (o.generate + 16), false);
    for (std::size_t s = 0; s < o.sequences; ++s)
      caches.push_back(std::make_unique<engine::KvCache>(*pool));
  }
  for (int r = 0; r < o.repetitions; ++r) {
    state.reset();
    if (o.prompt > 0) pp.push_back(run_steps(state, tokens, 0, o.prompt, o.batch));
    state.reset();
    if (o.generate > 0) {
      // The context before generation is read untimed, as a prompt.
      if (o.depth > 0 && o.sequences == 1) (void)run_steps(state, tokens, 0, o.depth, o.batch);
      tg.push_back(o.sequences > 1 ? run_parallel_steps(state, caches, tokens, o.generate)
                                   : run_steps(state, tokens, o.depth, o.generate));
    }
  }

  const double bytes = static_cast<double>(model->weight_bytes());
  // A token reads every weight once except the embedding table, of which it reads one row (unless
  // the output matrix is that table).
  const engine::Tensor& embedding = model->token_embedding;
  const double read_per_token =
      bytes -
      (model->tied_output ? 0.0 : static_cast<double>(embedding.rows * embedding.row_bytes()));
  const double bandwidth = measured
                               ? std::max(bandwidth_before, measure_read_bandwidth_gbps(threads))
                               : o.bandwidth_gbps;
  const double limit = bandwidth * 1e9 / read_per_token;  // tokens/s if memory were all it took
  const Figure pp_fig = pp.empty() ? Figure{} : summarize(pp);
  const Figure tg_fig = tg.empty() ? Figure{} : summarize(tg);

  if (o.json) {
    const auto figure = [](const Figure& f) {
      return nlohmann::ordered_json{{"median", f.median}, {"min", f.low}, {"max", f.high}};
    };
    nlohmann::ordered_json out{{"model", o.model.path},
                               {"kernel_target", target},
                               {"kernel_targets_runnable", runnable_targets()},
                               {"cpu", cpu.model},
                               {"cpu_flags", cpu.flags},
                               {"weight_bytes", model->weight_bytes()},
                               {"bytes_read_per_token", read_per_token},
                               {"threads", threads},
                               {"repetitions", o.repetitions},
                               {"prompt_tokens", o.prompt},
                               {"generated_tokens", o.generate},
                               {"sequences", o.sequences},
                               {"depth", o.depth},
                               {"kv_type", o.kv_type},
                               {"prompt_tokens_per_second", figure(pp_fig)},
                               {"generation_tokens_per_second", figure(tg_fig)},
                               {"bandwidth_gbps", bandwidth},
                               {"bandwidth_measured", measured},
                               {"generation_limit_tokens_per_second", limit},
                               {"generation_fraction_of_limit", tg_fig.median / limit}};
    fmt::print("{}\n", out.dump());
    return 0;
  }
  fmt::print("kernels: {} (this CPU runs {}); CPU: {} ({})\n\n", target, runnable_targets(),
             cpu.model, cpu.flags);
  fmt::print("| model | weights | threads | test | tokens/s (median, min–max of {}) |\n",
             o.repetitions);
  fmt::print("|---|---|---|---|---|\n");
  const std::string name = o.model.path.substr(o.model.path.find_last_of('/') + 1);
  const auto row = [&](const char* test, std::size_t n, const Figure& f) {
    fmt::print("| {} | {:.2f} MB | {} | {}{} | {:.1f} ({:.1f}–{:.1f}) |\n", name, bytes / 1e6,
               threads, test, n, f.median, f.low, f.high);
  };
  if (o.prompt > 0) row("pp", o.prompt, pp_fig);
  if (o.generate > 0 && o.sequences > 1) {
    fmt::print("| {} | {:.2f} MB | {} | tg{} × {} sequences | {:.1f} ({:.1f}–{:.1f}) |\n", name,
               bytes / 1e6, threads, o.generate, o.sequences, tg_fig.median, tg_fig.low,
               tg_fig.high);
  } else if (o.generate > 0 && o.depth > 0) {
    fmt::print("| {} | {:.2f} MB | {} | tg{} @ d{} | {:.1f} ({:.1f}–{:.1f}) |\n", name, bytes / 1e6,
               threads, o.generate, o.depth, tg_fig.median, tg_fig.low, tg_fig.high);
  } else if (o.generate > 0) {
    row("tg", o.generate, tg_fig);
  }
  if (o.generate > 0 && o.sequences == 1) {
    fmt::print("generation: {:.0f} % of the bandwidth limit ({:.1f} tokens/s at {:.1f} GB/s{})\n",
               100 * tg_fig.median / limit, limit, bandwidth,
               measured ? fmt::format(", read by {} thread(s) before and after", threads) : "");
  }
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("bench", "Prompt-processing and generation speed (llama-bench style)");
  auto o = std::make_shared<BenchOptions>();
  add_model_options(*command, o->model);
  command->add_option("-p,--prompt-tokens", o->prompt, "Prompt tokens per repetition (0: skip)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
  command->add_option("-n,--gen-tokens", o->generate, "Generated tokens per repetition (0: skip)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
  command->add_option("-t,--threads", o->threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  command->add_option("-b,--batch", o->batch, "Prompt tokens per batch (1: token by token)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  command
      ->add_option("-s,--sequences", o->sequences,
                   "Sequences generating at once in one batch (aggregate tokens/s)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  command
      ->add_option("-d,--depth", o->depth,
                   "Positions already in the cache when generation starts (read untimed)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
  command->add_option("--kv-type", o->kv_type, "KV cache type: f32, f16 or q8_0")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
  command->add_option("-r,--repetitions", o->repetitions, "Repetitions")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  command
      ->add_option("--bandwidth-gbps", o->bandwidth_gbps,
                   "Memory bandwidth for the limit in GB/s (default: measured after the runs)")
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--kernels", o->kernels,
                   "Kernel target to run instead of the best this CPU runs (e.g. AVX2, SSE4: what "
                   "an older CPU would get)")
      ->check(CLI::Validator(
          [](std::string& name) {
            return engine::force_simd_target(name)
                       ? std::string{}
                       : fmt::format("no kernel target '{}' here; this CPU runs {}", name,
                                     runnable_targets());
          },
          "TARGET"));
  command->add_flag("--json", o->json, "One JSON object instead of the table");
  return {command, [o] { return run_reporting_errors([&] { return run_bench(*o); }); }};
}

}  // namespace llorch::cli
