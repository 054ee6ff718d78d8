// What the process benchmarks (worker_bench, stack_bench) share: their flags, medians and
// elapsed times.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace llorch::bench {

using Clock = std::chrono::steady_clock;

// `--model PATH --tokens N --reps N`, each optional; stories260K and 15 repetitions by default.
struct Flags {
  std::string model = std::string(LLORCH_MODELS_DIR) + "/gguf/stories260K.gguf";
  std::size_t tokens = 0;
  int reps = 15;
};

inline Flags parse_flags(int argc, char** argv, std::size_t default_tokens) {
  Flags f;
  f.tokens = default_tokens;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--model") f.model = argv[i + 1];
    if (flag == "--tokens") f.tokens = std::stoul(argv[i + 1]);
    if (flag == "--reps") f.reps = std::stoi(argv[i + 1]);
  }
  return f;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace llorch::bench
