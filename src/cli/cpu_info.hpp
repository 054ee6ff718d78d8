// What a benchmark figure needs beside it: the CPU it ran on and the SIMD extensions that CPU
// has (the kernels' dispatch depends on them), from /proc/cpuinfo.
#pragma once

#include <string>

namespace llorch::cli {

struct CpuInfo {
  std::string model;  // "AMD EPYC 9B45", or "unknown"
  std::string flags;  // the SIMD flags of interest it has, space-separated ("avx2 fma avx512f …")
};

CpuInfo read_cpu_info();

}  // namespace llorch::cli
