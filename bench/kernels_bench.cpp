// The matrix-vector kernels alone, per weight type: one TinyLlama-sized matrix (2048 × 5632, the
// FFN's) times a vector, in GB/s of weights read. What `llorch bench` measures end to end, without
// the rest of the forward pass.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
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

Matrix random_matrix(TensorType type, std::size_t rows, std::size_t cols) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  const TypeTraits& t = traits(type);
  Matrix m;
  const std::size_t row_bytes = cols / t.block_elements * t.block_bytes;
  m.data.resize(rows * row_bytes);
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
  for (auto type : {TensorType::f32, TensorType::f16, TensorType::q8_0, TensorType::q4_0,
                    TensorType::q4_0_planar, TensorType::q4_k, TensorType::q6_k}) {
    for (int threads : {1, 2}) b->Args({static_cast<int>(type), threads});
  }
}

BENCHMARK(BM_Matvec)->Apply(Types)->UseRealTime();
BENCHMARK(BM_MatvecFromMemory)->Apply(Types)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
