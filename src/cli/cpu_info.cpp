#include "cli/cpu_info.hpp"

#include <fstream>
#include <set>
#include <sstream>

namespace llorch::cli {
namespace {

// The extensions the kernels (or llama.cpp's) can use, in the order they are printed.
constexpr const char* kSimdFlags[] = {
    "sse4_2",   "avx",         "avx2",        "fma",        "f16c",     "avx512f",  "avx512bw",
    "avx512vl", "avx512_vnni", "avx512_bf16", "avx512vbmi", "avx_vnni", "amx_tile", "amx_int8",
    "amx_bf16", "asimd",       "asimddp",     "sve",        "sve2",     "i8mm",     "bf16"};

std::string after_colon(const std::string& line) {
  const auto colon = line.find(':');
  if (colon == std::string::npos) return {};
  const auto start = line.find_first_not_of(" \t", colon + 1);
  return start == std::string::npos ? std::string{} : line.substr(start);
}

}  // namespace

CpuInfo read_cpu_info() {
  CpuInfo info{"unknown", ""};
  std::ifstream in("/proc/cpuinfo");
  std::set<std::string> present;
  bool model_seen = false;
  bool flags_seen = false;
  for (std::string line; std::getline(in, line) && !(model_seen && flags_seen);) {
    // x86: "model name" and "flags"; Arm: "Features" (and no model name on many kernels).
    if (!model_seen && line.starts_with("model name")) {
      info.model = after_colon(line);
      model_seen = true;
    } else if (!flags_seen && (line.starts_with("flags") || line.starts_with("Features"))) {
      std::istringstream words(after_colon(line));
      for (std::string word; words >> word;) present.insert(word);
      flags_seen = true;
    }
  }
  for (const char* flag : kSimdFlags) {
    if (!present.contains(flag)) continue;
    if (!info.flags.empty()) info.flags += ' ';
    info.flags += flag;
  }
  return info;
}

}  // namespace llorch::cli
