#include "engine/repack.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "engine/model_error.hpp"
#include "engine/quant.hpp"

namespace llorch::engine {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// `bytes` of zeroed anonymous memory, released when the last owner lets go.
std::shared_ptr<std::byte> anonymous_memory(std::size_t bytes, const std::string& model_path) {
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    throw ModelError(model_path + ": cannot allocate " + std::to_string(bytes >> 20) +
                     " MiB for the repacked weights: " + std::strerror(errno));
  }
  // Advice only: without transparent huge pages the memory still works, in 4 KiB pages.
  (void)::madvise(memory, bytes, MADV_HUGEPAGE);
  return {static_cast<std::byte*>(memory), [bytes](std::byte* p) { ::munmap(p, bytes); }};
}

}  // namespace

std::size_t repack_for_kernels(Model& model) {
  std::vector<Tensor*> targets;
  std::size_t total = 0;
  model.for_each_tensor([&](Tensor& t) {
    if (t.type != TensorType::q4_0) return;
    targets.push_back(&t);
    total += t.rows * t.row_bytes();
  });
  if (targets.empty()) return 0;

  // Rows stay 32-byte aligned when they were (18 bytes a block: whenever the block count is a
  // multiple of 16); tensors start on 64-byte boundaries.
  const auto aligned = [](std::size_t bytes) { return (bytes + 63) & ~std::size_t{63}; };
  std::size_t capacity = 0;
  for (const Tensor* t : targets) capacity += aligned(t->rows * t->row_bytes());
  capacity = (capacity + kHugePage - 1) & ~(kHugePage - 1);
  const std::shared_ptr<std::byte> memory = anonymous_memory(capacity, model.path);

  std::vector<Tensor> repacked;
  std::byte* next = memory.get();
  for (const Tensor* t : targets) {
    repacked.push_back(Tensor{TensorType::q4_0_planar, next, t->rows, t->cols});
    next += aligned(t->rows * t->row_bytes());
  }
  // Every core takes tensors in turn: most of the time goes to the kernel zeroing the new pages
  // on first touch, which happens in whichever thread touches them.
  std::atomic<std::size_t> next_tensor{0};
  const auto work = [&] {
    for (std::size_t i = next_tensor++; i < targets.size(); i = next_tensor++) {
      const Tensor& from = *targets[i];
      for (std::size_t r = 0; r < from.rows; ++r)
        repack_q4_0_planar(from.row(r), const_cast<std::byte*>(repacked[i].row(r)), from.cols);
    }
  };
  {
    std::vector<std::jthread> helpers;
    for (unsigned i = 1; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
      helpers.emplace_back(work);
    work();
  }
  const bool tied = model.tied_output;
  for (std::size_t i = 0; i < targets.size(); ++i) *targets[i] = repacked[i];
  if (tied) model.output = model.token_embedding;
  model.storage.push_back(memory);
  return total;
}

}  // namespace llorch::engine
