#include "cli/read_bandwidth.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

namespace llorch::cli {

namespace {

// Reads every value once, asking for memory 2.5 KB ahead as the decode kernels do: a plain loop
// leaves the hardware prefetchers alone and reads slower than those kernels do.
std::uint64_t read_all(const std::uint64_t* p, std::size_t count) {
  constexpr std::size_t kLine = 8;  // values per 64-byte line
  constexpr std::size_t kAhead = 2560 / sizeof(std::uint64_t);
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  std::size_t i = 0;
  for (; i + kLine <= count; i += kLine) {
    __builtin_prefetch(p + i + kAhead);
    a += p[i] + p[i + 4];
    b += p[i + 1] + p[i + 5];
    c += p[i + 2] + p[i + 6];
    d += p[i + 3] + p[i + 7];
  }
  for (; i < count; ++i) a += p[i];
  return a + b + c + d;
}

}  // namespace

double measure_read_bandwidth_gbps(std::size_t threads, int repetitions) {
  constexpr std::size_t kBytes = std::size_t{512} << 20;
  std::vector<std::uint64_t> buffer(kBytes / sizeof(std::uint64_t));
  std::iota(buffer.begin(), buffer.end(), std::uint64_t{1});  // touched: no page faults timed
  threads = std::max<std::size_t>(1, threads);
  const std::size_t slice = buffer.size() / threads;
  std::vector<std::uint64_t> sums(threads);
  double best = 0.0;
  for (int r = 0; r < repetitions; ++r) {
    const auto begin = std::chrono::steady_clock::now();
    {
      std::vector<std::jthread> readers;
      for (std::size_t t = 0; t < threads; ++t) {
        readers.emplace_back([&, t] { sums[t] = read_all(buffer.data() + t * slice, slice); });
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    best = std::max(best, static_cast<double>(slice * threads * sizeof(std::uint64_t)) / seconds);
  }
  // The sums are read, so the loads cannot be optimized away.
  volatile std::uint64_t sink = std::accumulate(sums.begin(), sums.end(), std::uint64_t{0});
  (void)sink;
  return best / 1e9;
}

}  // namespace llorch::cli
