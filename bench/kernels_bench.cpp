// The matrix-vector kernels alone, per weight type (every type the engine computes): one
// TinyLlama-sized matrix (2048 × 5632, the FFN's) times a vector, in GB/s of weights read. What
// `llorch bench` measures end to end, without the rest of the forward pass.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "engine/kernels.hpp"
#include "engine/quant.hpp"
#include "engine/simd_kernels.hpp"
#include "engine/thread_pool.hpp"

namespace {

using namespace llorch::engine;

struct Matrix {
  std::vector<std::byte> data;
  Tensor tensor;
};

// Types quantize_row cannot write (Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS, Q2_K, Q3_K): random bytes
// with every block's F16 scales (at these offsets) set to a small value, so no block holds a NaN.
struct ScaleOffsets {
  TensorType type;
  std::size_t offsets[2];
  std::size_t count;
};
constexpr ScaleOffsets kRandomBlockTypes[] = {
    {TensorType::q4_1, {0, 2}, 2},   {TensorType::q5_0, {0, 0}, 1},
    {TensorType::q5_1, {0, 2}, 2},   {TensorType::iq4_nl, {0, 0}, 1},
    {TensorType::iq4_xs, {0, 0}, 1}, {TensorType::q2_k, {80, 82}, 2},
    {TensorType::q3_k, {108, 0}, 1},
};

bool random_blocks(TensorType type, std::vector<std::byte>& data) {
  for (const auto& t : kRandomBlockTypes) {
    if (t.type != type) continue;
    std::mt19937 rng(1);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    const std::uint16_t small = f32_to_f16(0.01f);
    const std::size_t block_bytes = traits(type).block_bytes;
    for (std::size_t at = 0; at + block_bytes <= data.size(); at += block_bytes)
      for (std::size_t i = 0; i < t.count; ++i)
        std::memcpy(data.data() + at + t.offsets[i], &small, 2);
    return true;
  }
  return false;
}

Matrix random_matrix(TensorType type, std::size_t rows, std::size_t cols) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  const TypeTraits& t = traits(type);
  Matrix m;
  const std::size_t row_bytes = cols / t.block_elements * t.block_bytes;
  m.data.resize(rows * row_bytes);
  m.tensor = Tensor{type, m.data.data(), rows, cols};
  if (random_blocks(type, m.data)) return m;
  std::vector<float> row(cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = normal(rng);
    quantize_row(type, row.data(), m.data.data() + r * row_bytes, cols);
  }
  m.tensor = Tensor{type, m.data.data(), rows, cols};
  return m;
}

void BM_Matvec(benchmark::State& state) {
  const auto type = static_cast<TensorType>(state.range(0));
  const auto threads = static_cast<std::size_t>(state.range(1));
  const std::size_t rows = 5632, cols = 2048;
  const Matrix m = random_matrix(type, rows, cols);
  std::vector<float> x(cols, 0.5f), y(rows);
  ThreadPool pool(threads);
  for (auto _ : state) {
    matvec(m.tensor, x.data(), y.data(), &pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.data.size()));
  state.SetLabel(std::string(traits(type).name) +
                 (type == TensorType::q4_0_planar ? " planar " : " ") +
                 std::string(simd_target_name()));
}

// The same product as decoding reads it: from memory, not from cache. Copies of the matrix fill
// 512 MiB and each iteration takes the next one, so no iteration finds its weights in the caches.
void BM_MatvecFromMemory(benchmark::State& state) {
  const auto type = static_cast<TensorType>(state.range(0));
  const auto threads = static_cast<std::size_t>(state.range(1));
  const std::size_t rows = 5632, cols = 2048;
  const Matrix one = random_matrix(type, rows, cols);
  const std::size_t copies = (std::size_t{512} << 20) / one.data.size() + 1;
  std::vector<std::byte> all(copies * one.data.size());
  std::vector<Tensor> tensors;
  for (std::size_t c = 0; c < copies; ++c) {
    std::copy(one.data.begin(), one.data.end(), all.begin() + c * one.data.size());
    tensors.push_back(Tensor{type, all.data() + c * one.data.size(), rows, cols});
  }
  std::vector<float> x(cols, 0.5f), y(rows);
  ThreadPool pool(threads);
  std::size_t next = 0;
  for (auto _ : state) {
    matvec(tensors[next], x.data(), y.data(), &pool);
    next = (next + 1) % copies;
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * one.data.size()));
  state.SetLabel(std::string(traits(type).name) +
                 (type == TensorType::q4_0_planar ? " planar " : " ") +
                 std::string(simd_target_name()));
}

void Types(benchmark::internal::Benchmark* b) {
  for (auto type : {TensorType::f32, TensorType::f16, TensorType::bf16, TensorType::q8_0,
                    TensorType::q4_0, TensorType::q4_0_planar, TensorType::q4_1, TensorType::q5_0,
                    TensorType::q5_1, TensorType::iq4_nl, TensorType::iq4_xs, TensorType::q2_k,
                    TensorType::q3_k, TensorType::q4_k, TensorType::q5_k, TensorType::q6_k}) {
    for (int threads : {1, 2}) b->Args({static_cast<int>(type), threads});
  }
}

BENCHMARK(BM_Matvec)->Apply(Types)->UseRealTime();
BENCHMARK(BM_MatvecFromMemory)->Apply(Types)->UseRealTime();

}  // namespace

// --kernels=TARGET (AVX2, SSE4, …) runs one of the compiled targets this CPU runs, as `llorch
// bench --kernels` does; the rest goes to Google Benchmark.
int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--kernels=")) {
      if (!llorch::engine::force_simd_target(arg.substr(10))) {
        std::fprintf(stderr, "kernels_bench: no kernel target '%s' on this CPU\n", argv[i] + 10);
        return 2;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
