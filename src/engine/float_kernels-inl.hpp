// Float kernels in Highway operations, the same code on every target: dot products of F32, F16
// and BF16 rows, their batched form, and attention over runs of cached positions.
// Per-target code: included by simd_kernels.cpp once for every target Highway compiles
// (foreach_target.h), hence the toggling include guard instead of #pragma once.
#if defined(LLORCH_ENGINE_FLOAT_KERNELS_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef LLORCH_ENGINE_FLOAT_KERNELS_INL_
#undef LLORCH_ENGINE_FLOAT_KERNELS_INL_
#else
#define LLORCH_ENGINE_FLOAT_KERNELS_INL_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/block_decoders.hpp"
#include "engine/simd_kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace llorch::engine::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// BF16 is the top half of an F32: widened to 32 bits and shifted, exactly.
template <class DF>
HWY_INLINE hn::Vec<DF> LoadBF16(DF df, const std::byte* row, std::size_t i) {
  const hn::RebindToUnsigned<DF> du32;
  const hn::Rebind<std::uint16_t, DF> du16;
  const auto* h = reinterpret_cast<const std::uint16_t*>(row) + i;
  return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, h))));
}

template <class DF>
HWY_INLINE hn::Vec<DF> LoadF16(DF df, const std::byte* row, std::size_t i) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(row) + i));
}

inline float Bf16Value(const std::byte* row, std::size_t i) {
  std::uint16_t bits;
  std::memcpy(&bits, row + 2 * i, 2);
  const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float v;
  std::memcpy(&v, &wide, 4);
  return v;
}

// The float weight types, widened to F32 in registers.
enum class FloatKind { f32, f16, bf16 };

template <FloatKind kKind, class DF>
HWY_INLINE hn::Vec<DF> LoadWeights(DF df, const std::byte* row, std::size_t i) {
  if constexpr (kKind == FloatKind::f16) return LoadF16(df, row, i);
  if constexpr (kKind == FloatKind::bf16) return LoadBF16(df, row, i);
  return hn::LoadU(df, reinterpret_cast<const float*>(row) + i);
}

template <FloatKind kKind>
HWY_INLINE float WeightValue(const std::byte* row, std::size_t i) {
  if constexpr (kKind == FloatKind::f16) {
    std::uint16_t bits;
    std::memcpy(&bits, row + 2 * i, 2);
    return f16_to_f32(bits);
  }
  if constexpr (kKind == FloatKind::bf16) return Bf16Value(row, i);
  float v;
  std::memcpy(&v, row + 4 * i, 4);
  return v;
}

// F32 and BF16 rows take two accumulators (the FMA latency chains side by side); F16 one, which
// measured ~3 % faster for attention's 64-value key rows (the F16 cache's main use).
template <FloatKind kKind>
constexpr bool kTwoAccumulators = kKind != FloatKind::f16;

// A row of n float weights against x, then the tail value by value. MatmulFloatRows repeats
// exactly these operations per token.
template <FloatKind kKind>
float DotFloatRow(const std::byte* row, const float* x, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  std::size_t i = 0;
  for (; kTwoAccumulators<kKind> && i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(LoadWeights<kKind>(d, row, i), hn::LoadU(d, x + i), acc0);
    acc1 = hn::MulAdd(LoadWeights<kKind>(d, row, i + lanes), hn::LoadU(d, x + i + lanes), acc1);
  }
  for (; i + lanes <= n; i += lanes)
    acc0 = hn::MulAdd(LoadWeights<kKind>(d, row, i), hn::LoadU(d, x + i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += WeightValue<kKind>(row, i) * x[i];
  return sum;
}

float DotF32(const float* a, const float* x, std::size_t n) {
  return DotFloatRow<FloatKind::f32>(reinterpret_cast<const std::byte*>(a), x, n);
}
float DotF16(const std::byte* row, const float* x, std::size_t n) {
  return DotFloatRow<FloatKind::f16>(row, x, n);
}
float DotBF16(const std::byte* row, const float* x, std::size_t n) {
  return DotFloatRow<FloatKind::bf16>(row, x, n);
}

constexpr std::size_t kFloatTile = 4;

// Float weights (F32, F16, BF16) against a batch of F32 activations: each row's values widened
// once for four tokens. Each token's sum takes the same float operations in the same order as
// DotFloatRow, so that a sequence gets the same results alone or batched.
template <FloatKind kKind>
void MatmulFloatRows(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                     const float* x, std::size_t count, std::size_t n, float* out,
                     std::size_t stride) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::size_t lanes = hn::Lanes(d);
  const std::size_t tiles = count / kFloatTile;
  for (std::size_t r = 0; r < row_count; ++r) {
    const std::byte* row = rows + r * row_bytes;
    for (std::size_t tile = 0; tile < tiles; ++tile) {
      const float* xt = x + tile * kFloatTile * n;
      V acc0[kFloatTile] = {hn::Zero(d), hn::Zero(d), hn::Zero(d), hn::Zero(d)};
      V acc1[kFloatTile] = {hn::Zero(d), hn::Zero(d), hn::Zero(d), hn::Zero(d)};
      std::size_t i = 0;
      for (; kTwoAccumulators<kKind> && i + 2 * lanes <= n; i += 2 * lanes) {
        const V w0 = LoadWeights<kKind>(d, row, i);
        const V w1 = LoadWeights<kKind>(d, row, i + lanes);
        for (std::size_t k = 0; k < kFloatTile; ++k) {
          acc0[k] = hn::MulAdd(w0, hn::LoadU(d, xt + k * n + i), acc0[k]);
          acc1[k] = hn::MulAdd(w1, hn::LoadU(d, xt + k * n + i + lanes), acc1[k]);
        }
      }
      for (; i + lanes <= n; i += lanes) {
        const V w = LoadWeights<kKind>(d, row, i);
        for (std::size_t k = 0; k < kFloatTile; ++k)
          acc0[k] = hn::MulAdd(w, hn::LoadU(d, xt + k * n + i), acc0[k]);
      }
      float sums[kFloatTile];
      for (std::size_t k = 0; k < kFloatTile; ++k)
        sums[k] = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0[k], acc1[k])));
      for (; i < n; ++i) {
        const float w = WeightValue<kKind>(row, i);
        for (std::size_t k = 0; k < kFloatTile; ++k) sums[k] += w * xt[k * n + i];
      }
      for (std::size_t k = 0; k < kFloatTile; ++k)
        out[(tile * kFloatTile + k) * stride + r] = sums[k];
    }
    for (std::size_t t = tiles * kFloatTile; t < count; ++t) {
      const float* xt = x + t * n;
      out[t * stride + r] = DotFloatRow<kKind>(row, xt, n);
    }
  }
}

// In-place softmax over n values (attention scores): max, exponentials and their sum a vector at
// a time (Highway's Exp, within 1 ulp or so of std::exp), then one multiply by the reciprocal.
void Softmax(float* x, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  auto highest = hn::Set(d, -HUGE_VALF);
  for (; i + lanes <= n; i += lanes) highest = hn::Max(highest, hn::LoadU(d, x + i));
  float max = hn::GetLane(hn::MaxOfLanes(d, highest));
  for (; i < n; ++i) max = std::max(max, x[i]);
  const auto shift = hn::Set(d, max);
  auto sums = hn::Zero(d);
  for (i = 0; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), shift));
    hn::StoreU(e, d, x + i);
    sums = hn::Add(sums, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, sums));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inverse = 1.0f / sum;
  const auto scale = hn::Set(d, inverse);
  for (i = 0; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), scale), d, x + i);
  for (; i < n; ++i) x[i] *= inverse;
}

// Attention over a run of cached positions (a KV block's rows, `stride` bytes apart): one dispatch
// for the run instead of one per position. Keys: out[r] = row_r · x. Values: out += Σ a[r]·row_r,
// with `out` held in registers across the rows, a vector's width at a time.
template <bool kHalf>
void DotRows(const std::byte* rows, std::size_t stride, std::size_t count, const float* x,
             std::size_t n, float* out) {
  for (std::size_t r = 0; r < count; ++r) {
    const std::byte* row = rows + r * stride;
    out[r] = kHalf ? DotF16(row, x, n) : DotF32(reinterpret_cast<const float*>(row), x, n);
  }
}
void DotRowsF16(const std::byte* rows, std::size_t stride, std::size_t count, const float* x,
                std::size_t n, float* out) {
  DotRows<true>(rows, stride, count, x, n, out);
}
void DotRowsF32(const std::byte* rows, std::size_t stride, std::size_t count, const float* x,
                std::size_t n, float* out) {
  DotRows<false>(rows, stride, count, x, n, out);
}

template <bool kHalf>
void AxpyRows(const float* a, const std::byte* rows, std::size_t stride, std::size_t count,
              float* out, std::size_t n) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<hwy::float16_t, decltype(d)> dh;
  const std::size_t lanes = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto acc = hn::LoadU(d, out + i);
    for (std::size_t r = 0; r < count; ++r) {
      const std::byte* row = rows + r * stride;
      const auto v =
          kHalf ? hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(row) + i))
                : hn::LoadU(d, reinterpret_cast<const float*>(row) + i);
      acc = hn::MulAdd(hn::Set(d, a[r]), v, acc);
    }
    hn::StoreU(acc, d, out + i);
  }
  for (; i < n; ++i) {
    for (std::size_t r = 0; r < count; ++r) {
      const std::byte* row = rows + r * stride;
      float v;
      if constexpr (kHalf) {
        std::uint16_t bits;
        std::memcpy(&bits, row + 2 * i, 2);
        v = f16_to_f32(bits);
      } else {
        std::memcpy(&v, row + 4 * i, 4);
      }
      out[i] += a[r] * v;
    }
  }
}
void AxpyRowsF16(const float* a, const std::byte* rows, std::size_t stride, std::size_t count,
                 float* out, std::size_t n) {
  AxpyRows<true>(a, rows, stride, count, out, n);
}
void AxpyRowsF32(const float* a, const std::byte* rows, std::size_t stride, std::size_t count,
                 float* out, std::size_t n) {
  AxpyRows<false>(a, rows, stride, count, out, n);
}

void AxpyRowsQ8(const float* a, const std::byte* rows, std::size_t stride, std::size_t count,
                float* out, std::size_t n) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<std::int32_t, decltype(d)> di;
  const hn::Rebind<std::int8_t, decltype(d)> d8;
  const std::size_t lanes = hn::Lanes(d);
  if (32 % lanes != 0) {  // a vector wider than a block: one value at a time
    for (std::size_t r = 0; r < count; ++r) {
      for (std::size_t b = 0; b < n / 32; ++b) {
        BlockQ8_0 block;
        std::memcpy(&block, rows + r * stride + b * sizeof(BlockQ8_0), sizeof block);
        const float scaled = a[r] * f16_to_f32(block.d);
        for (std::size_t i = 0; i < 32; ++i)
          out[b * 32 + i] += scaled * static_cast<float>(block.qs[i]);
      }
    }
    return;
  }
  for (std::size_t i = 0; i < n; i += lanes) {
    const std::size_t b = i / 32;
    auto acc = hn::LoadU(d, out + i);
    for (std::size_t r = 0; r < count; ++r) {
      const std::byte* block = rows + r * stride + b * sizeof(BlockQ8_0);
      std::uint16_t bits;
      std::memcpy(&bits, block, 2);
      const auto* qs = reinterpret_cast<const std::int8_t*>(block + offsetof(BlockQ8_0, qs));
      const auto v = hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, qs + (i % 32))));
      acc = hn::MulAdd(hn::Set(d, a[r] * f16_to_f32(bits)), v, acc);
    }
    hn::StoreU(acc, d, out + i);
  }
}

}  // namespace llorch::engine::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LLORCH_ENGINE_FLOAT_KERNELS_INL_
