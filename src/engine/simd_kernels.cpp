// The SIMD kernels' dispatch: Highway compiles this file (and the per-target kernel files it
// includes) once per target and picks one at run time, once per matrix product. x86 targets with
// AVX2 run integer kernels with hand-placed instructions (int8_kernels_x86-inl.hpp); every other
// target runs the same products in Highway operations (int8_kernels_portable-inl.hpp); the float
// kernels are Highway operations everywhere (float_kernels-inl.hpp). Never -march=native.
#ifndef HWY_DISABLED_TARGETS
// SSSE3 (Core 2 era, no SSE4.1) is left out: such machines run the baseline (SCALAR: one lane
// per vector, plain C++).
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif
#define HWY_WANT_AVX3_DL  // Highway 1.0 leaves it out unless asked

#include "engine/simd_kernels.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/block_decoders.hpp"
#include "engine/scalar_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/simd_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "engine/float_kernels-inl.hpp"
#include "engine/int8_kernels_portable-inl.hpp"
#include "engine/int8_kernels_x86-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace llorch::engine::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// Calls f with std::integral_constant<TensorType, type> for the block types whose kernels decode
// in registers (DotDecoded: Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS, Q2_K, Q3_K); false for the others
// and on the one-lane baseline, which decodes them in plain C++.
template <class F>
HWY_INLINE bool WithDecodedType(TensorType type, F&& f) {
#if HWY_TARGET == HWY_SCALAR
  (void)type;
  (void)f;
  return false;
#else
  switch (type) {
    case TensorType::q4_1:
      return f(std::integral_constant<TensorType, TensorType::q4_1>{}), true;
    case TensorType::q5_0:
      return f(std::integral_constant<TensorType, TensorType::q5_0>{}), true;
    case TensorType::q5_1:
      return f(std::integral_constant<TensorType, TensorType::q5_1>{}), true;
    case TensorType::iq4_nl:
      return f(std::integral_constant<TensorType, TensorType::iq4_nl>{}), true;
    case TensorType::iq4_xs:
      return f(std::integral_constant<TensorType, TensorType::iq4_xs>{}), true;
    case TensorType::q2_k:
      return f(std::integral_constant<TensorType, TensorType::q2_k>{}), true;
    case TensorType::q3_k:
      return f(std::integral_constant<TensorType, TensorType::q3_k>{}), true;
    default:
      return false;
  }
#endif
}

// The one-token kernel of a quantized type on this target, or nullptr where it has none: the
// block types on the one-lane baseline, which go through their plain C++ integer form below.
using DotKernelFn = float (*)(const std::byte*, const QuantizedActivations&);

DotKernelFn DotKernel(TensorType type) {
  switch (type) {
    case TensorType::q8_0:
      return DotQ8;
    case TensorType::q4_0:
      return DotQ4_0;
    case TensorType::q4_0_planar:
      return DotQ4_0Planar;
    case TensorType::q4_k:
      return DotQ4_K;
    case TensorType::q5_k:
      return DotQ5_K;
    case TensorType::q6_k:
      return DotQ6_K;
    default:
      break;
  }
  DotKernelFn kernel = nullptr;
  WithDecodedType(type, [&](auto t) { kernel = DotDecoded<decltype(t)::value>; });
  return kernel;
}

// The fallback: a row decoded to its integer form (block_decoders.hpp, plain C++), then one
// product per 16 values in Highway operations.
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

float DotQuantized(TensorType type, const std::byte* row, const QuantizedActivations& x) {
  if (const DotKernelFn kernel = DotKernel(type)) return kernel(row, x);
  const IntegerRow r = decode_integer_on_thread(type, row, x.n);
  return DotIntegerRow(r.q, r.scale, r.offset, x, uses_super_blocks(type));
}

// The decode step's product: one dispatch for a thread's share of a matrix.
void MatvecQuantized(TensorType type, const std::byte* rows, std::size_t row_bytes,
                     std::size_t row_count, const QuantizedActivations& x, float* out) {
  const DotKernelFn kernel = DotKernel(type);
  for (std::size_t r = 0; r < row_count; ++r) {
    const std::byte* row = rows + r * row_bytes;
    out[r] = kernel != nullptr ? kernel(row, x) : DotQuantized(type, row, x);
  }
}

void MatmulQuantized(TensorType type, const std::byte* rows, std::size_t row_bytes,
                     std::size_t row_count, const QuantizedActivations* xs, std::size_t count,
                     float* out, std::size_t stride) {
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  // Batched kernels of their own (each token still gets exactly its one-token result).
  switch (type) {
    case TensorType::q4_0:
      return MatmulQ4_0(rows, row_bytes, row_count, xs, count, out, stride);
    case TensorType::q4_0_planar:
      return MatmulQ4_0Planar(rows, row_bytes, row_count, xs, count, out, stride);
    case TensorType::q8_0:
      return MatmulQ8(rows, row_bytes, row_count, xs, count, out, stride);
    case TensorType::q4_k:
      return MatmulQ4_K(rows, row_bytes, row_count, xs, count, out, stride);
    case TensorType::q5_k:
      return MatmulQ5_K(rows, row_bytes, row_count, xs, count, out, stride);
    case TensorType::q6_k:
      return MatmulQ6_K(rows, row_bytes, row_count, xs, count, out, stride);
    default:
      break;
  }
  if (WithDecodedType(type, [&](auto t) {
        MatmulDecoded<decltype(t)::value>(rows, row_bytes, row_count, xs, count, out, stride);
      }))
    return;
#endif
  if (DotKernel(type) != nullptr) {
    // One token at a time through the one-token kernel (the rows stay in cache between tokens).
    for (std::size_t t = 0; t < count; ++t)
      MatvecQuantized(type, rows, row_bytes, row_count, xs[t], out + t * stride);
    return;
  }
  // The plain C++ integer form: each row decoded once for every token.
  const bool super = uses_super_blocks(type);
  for (std::size_t r = 0; r < row_count && count > 0; ++r) {
    const IntegerRow ir = decode_integer_on_thread(type, rows + r * row_bytes, xs[0].n);
    for (std::size_t t = 0; t < count; ++t)
      out[t * stride + r] = DotIntegerRow(ir.q, ir.scale, ir.offset, xs[t], super);
  }
}

float DotFloat(TensorType type, const std::byte* row, const float* x, std::size_t n) {
  switch (type) {
    case TensorType::f32:
      return DotF32(reinterpret_cast<const float*>(row), x, n);
    case TensorType::f16:
      return DotF16(row, x, n);
    case TensorType::bf16:
      return DotBF16(row, x, n);
    default:
      return dot_decoded(type, row, x, n, [](const float* a, const float* b, std::size_t count) {
        return DotF32(a, b, count);
      });
  }
}

void MatvecFloat(TensorType type, const std::byte* rows, std::size_t row_bytes,
                 std::size_t row_count, const float* x, std::size_t n, float* out) {
  for (std::size_t r = 0; r < row_count; ++r) out[r] = DotFloat(type, rows + r * row_bytes, x, n);
}

void MatmulFloat(TensorType type, const std::byte* rows, std::size_t row_bytes,
                 std::size_t row_count, const float* x, std::size_t count, std::size_t n,
                 float* out, std::size_t stride) {
  switch (type) {
    case TensorType::f32:
      return MatmulFloatRows<FloatKind::f32>(rows, row_bytes, row_count, x, count, n, out, stride);
    case TensorType::f16:
      return MatmulFloatRows<FloatKind::f16>(rows, row_bytes, row_count, x, count, n, out, stride);
    case TensorType::bf16:
      return MatmulFloatRows<FloatKind::bf16>(rows, row_bytes, row_count, x, count, n, out, stride);
    default: {
      // Other block types: each row decoded to F32 once for the whole batch.
      thread_local std::vector<float> decoded;
      decoded.resize(n);
      for (std::size_t r = 0; r < row_count; ++r) {
        decode_blocks(type, rows + r * row_bytes, decoded.data(), n);
        MatmulFloatRows<FloatKind::f32>(reinterpret_cast<const std::byte*>(decoded.data()),
                                        n * sizeof(float), 1, x, count, n, out + r, stride);
      }
    }
  }
}

// Q8_0 cache rows (blocks of 32 int8 with an F16 scale): keys against the query quantized once.
void DotRowsQ8(const std::byte* rows, std::size_t stride, std::size_t count,
               const QuantizedActivations& x, float* out) {
  for (std::size_t r = 0; r < count; ++r) out[r] = DotQ8(rows + r * stride, x);
}

const char* TargetName() {
  return hwy::TargetName(HWY_TARGET);
}

}  // namespace llorch::engine::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace llorch::engine {

HWY_EXPORT(DotQuantized);
HWY_EXPORT(DotFloat);
HWY_EXPORT(MatvecQuantized);
HWY_EXPORT(MatmulQuantized);
HWY_EXPORT(MatvecFloat);
HWY_EXPORT(MatmulFloat);
HWY_EXPORT(Softmax);
HWY_EXPORT(DotRowsF16);
HWY_EXPORT(DotRowsF32);
HWY_EXPORT(AxpyRowsF16);
HWY_EXPORT(AxpyRowsF32);
HWY_EXPORT(DotRowsQ8);
HWY_EXPORT(AxpyRowsQ8);
HWY_EXPORT(TargetName);

namespace {

// Round to nearest, ties to even, for |v| < 2^22, without a libm call per value: adding
// 1.5 · 2^23 leaves the rounded integer in the low mantissa bits.
inline std::int32_t RoundToInt(float v) noexcept {
  const float shifted = v + 12582912.0f;
  std::int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return bits - 0x4B400000;
}

// Quantizes `count` values in blocks of `block` (scale amax / 127, rounded to nearest) into q
// and d, and sums every 16 of the results into sums.
template <typename Sum>
void quantize_in_blocks(const float* x, std::size_t count, std::size_t block, std::int8_t* q,
                        float* d, Sum* sums) noexcept {
  for (std::size_t b = 0; b < count / block; ++b) {
    const float* xb = x + b * block;
    float amax = 0.0f;
    for (std::size_t j = 0; j < block; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float scale = amax / 127.0f;
    const float inverse = scale != 0.0f ? 1.0f / scale : 0.0f;
    d[b] = scale;
    for (std::size_t g = 0; g < block / 16; ++g) {
      std::int32_t sum = 0;
      for (std::size_t j = 16 * g; j < 16 * g + 16; ++j) {
        const auto v = static_cast<std::int8_t>(RoundToInt(xb[j] * inverse));
        q[b * block + j] = v;
        sum += v;
      }
      sums[b * block / 16 + g] = static_cast<Sum>(sum);
    }
  }
}

}  // namespace

void QuantizedActivations::quantize(const float* x, std::size_t count, bool super_blocks) {
  n = count;
  q.resize(count);
  d.resize(count / 32);
  sums16.resize(count / 16);
  quantize_in_blocks(x, count, 32, q.data(), d.data(), sums16.data());
  block_offsets8.resize(count / 32);
  for (std::size_t b = 0; b < count / 32; ++b)
    block_offsets8[b] = 8.0f * static_cast<float>(sums16[2 * b] + sums16[2 * b + 1]) * d[b];
  // Each pair of blocks (b, b+1) as [b 0-15, b+1 0-15, b 16-31, b+1 16-31], as the planar Q4_0
  // kernels meet them; a last odd block is left out (the kernels take it one block alone).
  q_pairs.resize(count);
  for (std::size_t b = 0; b + 2 <= count / 32; b += 2) {
    const std::int8_t* from = q.data() + 32 * b;
    std::int8_t* to = q_pairs.data() + 32 * b;
    std::memcpy(to, from, 16);
    std::memcpy(to + 16, from + 32, 16);
    std::memcpy(to + 32, from + 16, 16);
    std::memcpy(to + 48, from + 48, 16);
  }

  const bool whole = super_blocks && count % kSuperBlock == 0;
  qk.resize(whole ? count : 0);
  dk.resize(whole ? count / kSuperBlock : 0);
  ksums16.resize(whole ? count / 16 : 0);
  if (whole) quantize_in_blocks(x, count, kSuperBlock, qk.data(), dk.data(), ksums16.data());
}

bool uses_super_blocks(TensorType type) noexcept {
  return type == TensorType::q4_k || type == TensorType::q6_k || type == TensorType::q2_k ||
         type == TensorType::q3_k || type == TensorType::q5_k || type == TensorType::iq4_xs;
}

bool uses_quantized_activations(TensorType type) noexcept {
  return type == TensorType::q8_0 || type == TensorType::q4_0 || type == TensorType::q4_0_planar ||
         type == TensorType::q4_k || type == TensorType::q6_k || is_integer_decoded(type);
}

void simd_softmax(float* x, std::size_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(Softmax)(x, n);
}

void simd_dot_rows(TensorType type, const std::byte* rows, std::size_t stride, std::size_t count,
                   const float* x, std::size_t n, float* out) noexcept {
  if (type == TensorType::f16)
    return HWY_DYNAMIC_DISPATCH(DotRowsF16)(rows, stride, count, x, n, out);
  HWY_DYNAMIC_DISPATCH(DotRowsF32)(rows, stride, count, x, n, out);
}

void simd_dot_rows_quantized(const std::byte* rows, std::size_t stride, std::size_t count,
                             const QuantizedActivations& x, float* out) noexcept {
  HWY_DYNAMIC_DISPATCH(DotRowsQ8)(rows, stride, count, x, out);
}

void simd_axpy_rows(TensorType type, const float* a, const std::byte* rows, std::size_t stride,
                    std::size_t count, float* out, std::size_t n) noexcept {
  if (type == TensorType::q8_0)
    return HWY_DYNAMIC_DISPATCH(AxpyRowsQ8)(a, rows, stride, count, out, n);
  if (type == TensorType::f16)
    return HWY_DYNAMIC_DISPATCH(AxpyRowsF16)(a, rows, stride, count, out, n);
  HWY_DYNAMIC_DISPATCH(AxpyRowsF32)(a, rows, stride, count, out, n);
}

float simd_dot(TensorType type, const std::byte* row, const float* x, std::size_t n) noexcept {
  return HWY_DYNAMIC_DISPATCH(DotFloat)(type, row, x, n);
}

float simd_dot_quantized(TensorType type, const std::byte* row,
                         const QuantizedActivations& x) noexcept {
  return HWY_DYNAMIC_DISPATCH(DotQuantized)(type, row, x);
}

void simd_matvec_quantized(TensorType type, const std::byte* rows, std::size_t row_bytes,
                           std::size_t row_count, const QuantizedActivations& x,
                           float* out) noexcept {
  HWY_DYNAMIC_DISPATCH(MatvecQuantized)(type, rows, row_bytes, row_count, x, out);
}

void simd_matvec(TensorType type, const std::byte* rows, std::size_t row_bytes,
                 std::size_t row_count, const float* x, std::size_t n, float* out) noexcept {
  HWY_DYNAMIC_DISPATCH(MatvecFloat)(type, rows, row_bytes, row_count, x, n, out);
}

void simd_matmul_quantized(TensorType type, const std::byte* rows, std::size_t row_bytes,
                           std::size_t row_count, const QuantizedActivations* xs, std::size_t count,
                           float* out, std::size_t stride) noexcept {
  HWY_DYNAMIC_DISPATCH(MatmulQuantized)(type, rows, row_bytes, row_count, xs, count, out, stride);
}

void simd_matmul(TensorType type, const std::byte* rows, std::size_t row_bytes,
                 std::size_t row_count, const float* x, std::size_t count, std::size_t n,
                 float* out, std::size_t stride) noexcept {
  HWY_DYNAMIC_DISPATCH(MatmulFloat)(type, rows, row_bytes, row_count, x, count, n, out, stride);
}

float scalar_dot_quantized(TensorType type, const std::byte* row,
                           const QuantizedActivations& x) noexcept {
  switch (type) {
    case TensorType::q8_0:
      return scalar::dot_q8(row, x);
    case TensorType::q4_0:
      return scalar::dot_q4_0(row, x);
    case TensorType::q4_0_planar:
      return scalar::dot_q4_0_planar(row, x);
    case TensorType::q4_k:
      return scalar::dot_q4_k(row, x);
    case TensorType::q6_k:
      return scalar::dot_q6_k(row, x);
    default: {
      const IntegerRow r = decode_integer_on_thread(type, row, x.n);
      return scalar::dot_integer_row(r.q, r.scale, r.offset, x, uses_super_blocks(type));
    }
  }
}

std::string_view simd_target_name() {
  return HWY_DYNAMIC_DISPATCH(TargetName)();
}

std::vector<SimdTarget> simd_targets() {
  // Read once, before any forcing narrows what Highway reports as supported.
  static const std::vector<SimdTarget> targets = [] {
    std::vector<SimdTarget> out;
    const std::int64_t runnable = hwy::SupportedTargets();
    for (std::int64_t target = HWY_TARGETS & runnable; target != 0; target &= target - 1) {
      const std::int64_t bit = target & -target;
      out.push_back({bit, hwy::TargetName(bit)});
    }
    return out;
  }();
  return targets;
}

bool force_simd_target(std::string_view name) {
  const auto same = [](std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  };
  for (const SimdTarget& target : simd_targets()) {
    if (!same(target.name, name)) continue;
    hwy::SetSupportedTargetsForTest(target.bit);
    return true;
  }
  return false;
}

}  // namespace llorch::engine
#endif  // HWY_ONCE
