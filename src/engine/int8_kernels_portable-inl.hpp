// The integer kernels of every target without AVX2, in Highway operations.
// Per-target code: included by simd_kernels.cpp once for every target Highway compiles
// (foreach_target.h), hence the toggling include guard instead of #pragma once.
#if defined(LLORCH_ENGINE_INT8_KERNELS_PORTABLE_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef LLORCH_ENGINE_INT8_KERNELS_PORTABLE_INL_
#undef LLORCH_ENGINE_INT8_KERNELS_PORTABLE_INL_
#else
#define LLORCH_ENGINE_INT8_KERNELS_PORTABLE_INL_
#endif

#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>

#include "engine/block_decoders.hpp"
#include "engine/simd_kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace llorch::engine::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)

// Every other target (SSE4, NEON, SVE, WASM, EMU128): each row is decoded to its integer form
// (block_decoders.hpp: value = scale · q + offset per 16 values, the same one every type has)
// and meets the activations in Highway operations: int8 widened to int16 and multiplied into
// int32 pair sums (pmaddwd on SSE4, smlal on NEON), one float multiply-add per 16 values.

// The int32 lanes of acc plus the products of the 16 int8 values at w and x (their sum over
// lanes is the integer dot product).
template <class D32>
HWY_INLINE hn::Vec<D32> Dot16(D32 d32, const std::int8_t* w, const std::int8_t* x,
                              hn::Vec<D32> acc) {
#if HWY_TARGET == HWY_SCALAR  // one lane: no pairs to widen into
  std::int32_t sum = 0;
  for (int i = 0; i < 16; ++i) sum += w[i] * x[i];
  return hn::Add(acc, hn::Set(d32, sum));
#else
  const hn::Repartition<std::int16_t, D32> d16;
  const hn::Rebind<std::int8_t, decltype(d16)> d8;
  auto odd = hn::Zero(d32);
  for (std::size_t i = 0; i < 16; i += hn::Lanes(d16)) {
    acc = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, hn::LoadU(d8, w + i)),
                                        hn::PromoteTo(d16, hn::LoadU(d8, x + i)), acc, odd);
  }
  return hn::Add(acc, odd);
#endif
}

float DotIntegerRow(const std::int8_t* q, const float* scale, const float* offset,
                    const QuantizedActivations& x, bool super) {
  const hn::CappedTag<std::int32_t, 4> d32;
  const hn::Rebind<float, decltype(d32)> df;
  const std::int8_t* xq = super ? x.qk.data() : x.q.data();
  auto acc = hn::Zero(df);
  float offsets = 0.0f;
  for (std::size_t g = 0; g < x.n / 16; ++g) {
    const auto sums = Dot16(d32, q + 16 * g, xq + 16 * g, hn::Zero(d32));
    const float d = super ? x.dk[g / 16] : x.d[g / 2];
    const float xsum = super ? x.ksums16[g] : static_cast<float>(x.sums16[g]);
    acc = hn::MulAdd(hn::ConvertTo(df, sums), hn::Set(df, scale[g] * d), acc);
    offsets += d * offset[g] * xsum;
  }
  return hn::GetLane(hn::SumOfLanes(df, acc)) + offsets;
}

// A row of any quantized type through its integer form.
template <TensorType kType>
float DotThroughIntegers(const std::byte* row, const QuantizedActivations& x) {
  const IntegerRow r = decode_integer_on_thread(kType, row, x.n);
  return DotIntegerRow(r.q, r.scale, r.offset, x, uses_super_blocks(kType));
}

float DotQ8(const std::byte* row, const QuantizedActivations& x) {
  return DotThroughIntegers<TensorType::q8_0>(row, x);
}
float DotQ4_0(const std::byte* row, const QuantizedActivations& x) {
  return DotThroughIntegers<TensorType::q4_0>(row, x);
}
float DotQ4_0Planar(const std::byte* row, const QuantizedActivations& x) {
  return DotThroughIntegers<TensorType::q4_0_planar>(row, x);
}
float DotQ4_K(const std::byte* row, const QuantizedActivations& x) {
  return DotThroughIntegers<TensorType::q4_k>(row, x);
}
float DotQ5_K(const std::byte* row, const QuantizedActivations& x) {
  return DotThroughIntegers<TensorType::q5_k>(row, x);
}
float DotQ6_K(const std::byte* row, const QuantizedActivations& x) {
  return DotThroughIntegers<TensorType::q6_k>(row, x);
}

constexpr std::size_t kTileK = 4;

// The batched kernel's step: the row is decoded once (by the caller) for every token; with
// 128-bit vectors a token's products fill the registers, so the tokens take turns per row.
HWY_INLINE void RowTileInteger(const std::int8_t* q, const float* scale, const float* offset,
                               const QuantizedActivations* xs, bool super, float* out,
                               std::size_t stride) {
  for (std::size_t k = 0; k < kTileK; ++k)
    out[k * stride] = DotIntegerRow(q, scale, offset, xs[k], super);
}

#endif  // !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)

}  // namespace llorch::engine::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LLORCH_ENGINE_INT8_KERNELS_PORTABLE_INL_
