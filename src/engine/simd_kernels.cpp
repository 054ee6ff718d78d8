// Highway compiles this file once per target (foreach_target.h) and picks one at run time. Only
// AVX2 gets hand-placed integer code (maddubs: 32 int8 products per instruction); every other
// target computes the same integer sums with the portable code below. Never -march=native.
#ifndef HWY_DISABLED_TARGETS
// SSSE3/SSE4 machines run the portable code; AVX-512 machines without VNNI run the AVX2 code;
// AVX3_DL (Ice Lake, Zen 4 and later: AVX-512 with VNNI) runs it too, with VNNI's dpbusd (one
// instruction for maddubs + madd) in its innermost products.
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_SSE4 | HWY_AVX3)
#endif
#define HWY_WANT_AVX3_DL  // Highway 1.0 leaves it out unless asked

#include "engine/simd_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/block_decoders.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/simd_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

// Target-independent pieces: defined once.
#ifndef LLORCH_SIMD_KERNELS_ONCE
#define LLORCH_SIMD_KERNELS_ONCE
namespace llorch::engine::detail {

// A decoded integer row (block_decoders.hpp: value = scale[g]·q + offset[g] per 16 values g)
// against the activations: exact integer sums per group, one float multiply-add per group.
// `super` takes the activations quantized per 256 (qk, dk, ksums16) as ggml's Q8_K, which the
// super-block types (Q2_K, Q3_K, Q5_K, IQ4_XS) meet in llama.cpp too; else per 32.
inline float dot_integer_row_scalar(const std::int8_t* q, const float* scale, const float* offset,
                                    const QuantizedActivations& x, bool super) noexcept {
  float sum = 0.0f;
  for (std::size_t g = 0; g < x.n / 16; ++g) {
    std::int32_t s = 0;
    const std::int8_t* xq = super ? x.qk.data() : x.q.data();
    for (std::size_t i = 16 * g; i < 16 * g + 16; ++i) s += q[i] * xq[i];
    const float d = super ? x.dk[g / 16] : x.d[g / 2];
    const float xsum = super ? x.ksums16[g] : static_cast<float>(x.sums16[g]);
    sum += d * (scale[g] * static_cast<float>(s) + offset[g] * xsum);
  }
  return sum;
}

inline float dot_q8_scalar(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / 32; ++b) {
    BlockQ8_0 block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    std::int32_t s = 0;
    for (int j = 0; j < 32; ++j) s += block.qs[j] * x.q[32 * b + j];
    sum += f16_to_f32(block.d) * x.d[b] * static_cast<float>(s);
  }
  return sum;
}

// Block b of a Q4_0 row (its 16 quant bytes and f16 scale) against activation block b.
inline float q4_0_block_dot(const std::uint8_t* qs, std::uint16_t scale,
                            const QuantizedActivations& x, std::size_t b) noexcept {
  std::int32_t s = 0;
  for (int j = 0; j < 16; ++j) {
    s += (qs[j] & 0x0F) * x.q[32 * b + j] + (qs[j] >> 4) * x.q[32 * b + 16 + j];
  }
  s -= 8 * (x.sums16[2 * b] + x.sums16[2 * b + 1]);
  return f16_to_f32(scale) * x.d[b] * static_cast<float>(s);
}

inline float dot_q4_0_scalar(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / 32; ++b) {
    BlockQ4_0 block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    sum += q4_0_block_dot(block.qs, block.d, x, b);
  }
  return sum;
}

inline std::uint16_t planar_scale(const std::byte* row, std::size_t blocks,
                                  std::size_t b) noexcept {
  std::uint16_t bits;
  std::memcpy(&bits, row + q4_0_planar_scale(blocks, b), 2);
  return bits;
}

inline float dot_q4_0_planar_scalar(const std::byte* row, const QuantizedActivations& x,
                                    std::size_t first_block = 0) noexcept {
  const std::size_t blocks = x.n / 32;
  float sum = 0.0f;
  for (std::size_t b = first_block; b < blocks; ++b) {
    sum += q4_0_block_dot(reinterpret_cast<const std::uint8_t*>(row + q4_0_planar_quants(b)),
                          planar_scale(row, blocks, b), x, b);
  }
  return sum;
}

// The K-quants meet the super-block quantization (x.qk): integer sums over the whole super-block,
// one float multiply each.
inline float dot_q4_k_scalar(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    BlockQ4_K block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    std::uint8_t sc[8];
    std::uint8_t mn[8];
    unpack_q4_k_scales(block.scales, sc, mn);
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
    const std::int16_t* xsums = x.ksums16.data() + 16 * b;
    std::int32_t scaled = 0;
    std::int32_t mins = 0;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const std::uint8_t* q = block.qs + 32 * chunk;
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * chunk + half;  // sub-block of 32 values
        std::int32_t s = 0;
        for (int l = 0; l < 32; ++l) s += (half == 0 ? q[l] & 0x0F : q[l] >> 4) * xq[32 * j + l];
        scaled += sc[j] * s;
        mins += mn[j] * (xsums[2 * j] + xsums[2 * j + 1]);
      }
    }
    sum += x.dk[b] * (f16_to_f32(block.d) * static_cast<float>(scaled) -
                      f16_to_f32(block.dmin) * static_cast<float>(mins));
  }
  return sum;
}

inline float dot_q6_k_scalar(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    BlockQ6_K block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    std::int32_t scaled = 0;
    for (int half = 0; half < 2; ++half) {
      const std::uint8_t* ql = block.ql + 64 * half;
      const std::uint8_t* qh = block.qh + 32 * half;
      // The four runs of 32 values of this half, as unsigned 6-bit q (value = q - 32).
      std::uint8_t q[128];
      for (int l = 0; l < 32; ++l) {
        q[l] = static_cast<std::uint8_t>((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4));
        q[l + 32] = static_cast<std::uint8_t>((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4));
        q[l + 64] = static_cast<std::uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        q[l + 96] = static_cast<std::uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
      for (int g = 0; g < 8; ++g) {  // groups of 16 values, one scale each
        const std::size_t group = 8 * static_cast<std::size_t>(half) + static_cast<std::size_t>(g);
        const std::int8_t* xq = x.qk.data() + kSuperBlock * b + 16 * group;
        std::int32_t s = 0;
        for (int l = 0; l < 16; ++l) s += q[16 * g + l] * xq[l];
        s -= 32 * x.ksums16[16 * b + group];
        scaled += block.scales[group] * s;
      }
    }
    sum += f16_to_f32(block.d) * x.dk[b] * static_cast<float>(scaled);
  }
  return sum;
}

}  // namespace llorch::engine::detail
#endif  // LLORCH_SIMD_KERNELS_ONCE

HWY_BEFORE_NAMESPACE();
namespace llorch::engine::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

float DotF32(const float* a, const float* x, std::size_t n) {
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  std::size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, x + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, x + i + lanes), acc1);
  }
  for (; i + lanes <= n; i += lanes)
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, x + i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += a[i] * x[i];
  return sum;
}

float DotF16(const std::byte* row, const float* x, std::size_t n) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<hwy::float16_t, decltype(d)> dh;
  const std::size_t lanes = hn::Lanes(d);
  const auto* h = reinterpret_cast<const hwy::float16_t*>(row);
  auto acc = hn::Zero(d);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    acc = hn::MulAdd(hn::PromoteTo(d, hn::LoadU(dh, h + i)), hn::LoadU(d, x + i), acc);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; ++i) {
    std::uint16_t bits;
    std::memcpy(&bits, row + 2 * i, 2);
    sum += f16_to_f32(bits) * x[i];
  }
  return sum;
}

// out[i] += a · v[i] for F16 v (an attention head's values, weighted).
void AxpyF16(float a, const std::byte* v, float* out, std::size_t n) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<hwy::float16_t, decltype(d)> dh;
  const std::size_t lanes = hn::Lanes(d);
  const auto* h = reinterpret_cast<const hwy::float16_t*>(v);
  const auto va = hn::Set(d, a);
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::MulAdd(va, hn::PromoteTo(d, hn::LoadU(dh, h + i)), hn::LoadU(d, out + i)), d,
               out + i);
  }
  for (; i < n; ++i) {
    std::uint16_t bits;
    std::memcpy(&bits, v + 2 * i, 2);
    out[i] += a * f16_to_f32(bits);
  }
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

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3_DL

// 8 int32 sums of 4 products each, of 32 unsigned bytes (≤ 127) with 32 signed bytes.
HWY_INLINE __m256i DotU8I8(__m256i u, __m256i s) {
#if HWY_TARGET == HWY_AVX3_DL
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

HWY_INLINE float HorizontalSum(__m256 v) {
  const __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  return _mm_cvtss_f32(_mm_add_ss(sum2, _mm_movehdup_ps(sum2)));
}

HWY_INLINE float Half(std::uint16_t bits) {
  return _cvtsh_ss(bits);
}

// |w| with w's sign moved onto v: maddubs wants one unsigned operand.
HWY_INLINE __m256i DotI8I8(__m256i w, __m256i v) {
  return DotU8I8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(v, w));
}

HWY_INLINE __m256i LoadQ8(const std::byte* row, std::size_t b) {
  return _mm256_loadu_si256(
      reinterpret_cast<const __m256i*>(row + b * sizeof(BlockQ8_0) + offsetof(BlockQ8_0, qs)));
}

// Values 0-15 from the low nibbles, 16-31 from the high ones: unsigned 0..15 (the value + 8).
HWY_INLINE __m256i LoadQ4_0(const std::byte* row, std::size_t b) {
  const __m128i packed = _mm_loadu_si128(
      reinterpret_cast<const __m128i*>(row + b * sizeof(BlockQ4_0) + offsetof(BlockQ4_0, qs)));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed),
                          _mm256_set1_epi8(0x0F));
}

template <typename Block>
HWY_INLINE float BlockScale(const std::byte* row, std::size_t b) {
  std::uint16_t bits;
  std::memcpy(&bits, row + b * sizeof(Block) + offsetof(Block, d), 2);
  return Half(bits);
}

template <typename Block>
HWY_INLINE float BlockScale(const std::byte* row, std::size_t b, const QuantizedActivations& x) {
  std::uint16_t bits;
  std::memcpy(&bits, row + b * sizeof(Block) + offsetof(Block, d), 2);
  return Half(bits) * x.d[b];
}

HWY_INLINE __m256i LoadX(const QuantizedActivations& x, std::size_t b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q.data() + 32 * b));
}

// How far ahead of the computation the decode kernels ask for their weights. Decoding streams
// every weight from memory once; the hardware prefetchers alone leave the kernels waiting on
// DRAM latency, and a distance of a few hundred bytes is too short to hide it: with 2.5 KB, a
// TinyLlama-shape Q4_0 token went from 27 to 36 tok/s (bench/README.md).
constexpr std::size_t kPrefetchAhead = 2560;

// Asks for every cache line of [p, p + bytes), addresses at most 48 bytes apart so
// that no line is skipped whatever the alignment.
HWY_INLINE void Prefetch(const std::byte* p, std::size_t bytes) {
  for (std::size_t offset = 0; offset < bytes; offset += 48)
    _mm_prefetch(reinterpret_cast<const char*>(p + offset), _MM_HINT_T0);
}

// The low and the high nibbles of 32 packed bytes, as 32 unsigned bytes (0-15) each.
struct Nibbles {
  __m256i low;
  __m256i high;
};

HWY_INLINE Nibbles SplitNibbles(__m256i packed) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  return {_mm256_and_si256(packed, mask), _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask)};
}

// Two blocks per step into two accumulators: the FMA latency chains run side by side.
template <typename Block, __m256i (*Load)(const std::byte*, std::size_t)>
HWY_INLINE float DotSigned(const std::byte* row, const QuantizedActivations& x) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  const std::size_t blocks = x.n / 32;
  std::size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    // Rows follow each other in memory: this runs into the next row, which is read next.
    Prefetch(row + b * sizeof(Block) + kPrefetchAhead, 2 * sizeof(Block));
    const __m256i p0 = DotI8I8(Load(row, b), LoadX(x, b));
    const __m256i p1 = DotI8I8(Load(row, b + 1), LoadX(x, b + 1));
    acc0 =
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(BlockScale<Block>(row, b, x)), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(BlockScale<Block>(row, b + 1, x)),
                           acc1);
  }
  if (b < blocks) {
    const __m256i p = DotI8I8(Load(row, b), LoadX(x, b));
    acc0 =
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(BlockScale<Block>(row, b, x)), acc0);
  }
  return HorizontalSum(_mm256_add_ps(acc0, acc1));
}

float DotQ8(const std::byte* row, const QuantizedActivations& x) {
  return DotSigned<BlockQ8_0, LoadQ8>(row, x);
}

// Σ (w - 8) x = Σ w x - Σ 8 x: the second sum, per pair of values, comes precomputed with the
// activations, so the zero point costs one subtraction per block.
HWY_INLINE __m256i DotQ4_0Block(const std::byte* row, std::size_t b,
                                const QuantizedActivations& x) {
  const __m256i products = _mm256_maddubs_epi16(LoadQ4_0(row, b), LoadX(x, b));
  const __m256i offsets =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.pair_offsets8.data() + 16 * b));
  return _mm256_madd_epi16(_mm256_sub_epi16(products, offsets), _mm256_set1_epi16(1));
}

float DotQ4_0(const std::byte* row, const QuantizedActivations& x) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  const std::size_t blocks = x.n / 32;
  std::size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    Prefetch(row + b * sizeof(BlockQ4_0) + kPrefetchAhead, 2 * sizeof(BlockQ4_0));
    const __m256i p0 = DotQ4_0Block(row, b, x);
    const __m256i p1 = DotQ4_0Block(row, b + 1, x);
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(BlockScale<BlockQ4_0>(row, b, x)),
                           acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1),
                           _mm256_set1_ps(BlockScale<BlockQ4_0>(row, b + 1, x)), acc1);
  }
  if (b < blocks) {
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DotQ4_0Block(row, b, x)),
                           _mm256_set1_ps(BlockScale<BlockQ4_0>(row, b, x)), acc0);
  }
  return HorizontalSum(_mm256_add_ps(acc0, acc1));
}

// The batched prompt's kernels: one weight row against four token vectors at a time. The row's
// block is decoded once and stays in registers for the four products.
constexpr std::size_t kTile = 8;

// A tile's activations in the order RowTile reads them, so that one pointer and constant offsets
// reach every token (eight tokens' own pointers do not fit in registers beside the
// accumulators): per block, the tokens' 32 quants, their scales, and their Q4_0 zero points
// (8 · Σx · d_x, block_offsets8).
constexpr std::size_t kTileBlockBytes = kTile * (32 + 2 * sizeof(float));

HWY_INLINE void PackTile(const QuantizedActivations* xs, std::size_t blocks, std::byte* out) {
  for (std::size_t b = 0; b < blocks; ++b) {
    std::byte* block = out + b * kTileBlockBytes;
    auto* scales = reinterpret_cast<float*>(block + kTile * 32);
    for (std::size_t k = 0; k < kTile; ++k) {
      std::memcpy(block + 32 * k, xs[k].q.data() + 32 * b, 32);
      scales[k] = xs[k].d[b];
      scales[kTile + k] = xs[k].block_offsets8[b];
    }
  }
}

// One weight row against kTile token vectors (packed by PackTile). Q4_0 leaves its zero point
// (8) out of the integer products and takes it off once per block for all the tile's tokens.
// Q8_0 is signed: |w| meets x with w's sign.
template <typename Block>
HWY_INLINE void RowTile(const std::byte* row, const float* scales, const std::byte* tile,
                        std::size_t blocks, float* out, std::size_t stride) {
  static_assert(kTile == 8, "one vector of zero points per block");
  constexpr bool kQ4 = std::is_same_v<Block, BlockQ4_0>;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[kTile];
  __m256 zero = _mm256_setzero_ps();
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (std::size_t b = 0; b < blocks; ++b, tile += kTileBlockBytes) {
    const __m256 dw = _mm256_broadcast_ss(scales + b);
    const auto* dx = reinterpret_cast<const float*>(tile + kTile * 32);
    __m256i w;
    if constexpr (kQ4) {
      w = LoadQ4_0(row, b);
      zero = _mm256_fmadd_ps(dw, _mm256_loadu_ps(dx + kTile), zero);
    } else {
      w = LoadQ8(row, b);
    }
    const __m256i magnitude = kQ4 ? w : _mm256_sign_epi8(w, w);
    for (std::size_t k = 0; k < kTile; ++k) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 32 * k));
      if constexpr (!kQ4) v = _mm256_sign_epi8(v, w);
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, v), ones);
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p),
                               _mm256_mul_ps(dw, _mm256_broadcast_ss(dx + k)), acc[k]);
    }
  }
  alignas(32) float zeros[kTile];
  _mm256_store_ps(zeros, zero);
  for (std::size_t k = 0; k < kTile; ++k) out[k * stride] = HorizontalSum(acc[k]) - zeros[k];
}

// Rows [0, row_count) against every token vector, blocked so that a few rows (their scales
// decoded once, in L1) meet a tile of tokens (in L1) at a time.
template <typename Block>
HWY_INLINE void MatmulTiles(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                            const QuantizedActivations* xs, std::size_t count, float* out,
                            std::size_t stride,
                            float (*single)(const std::byte*, const QuantizedActivations&)) {
  constexpr std::size_t kRowBlock = 32;
  constexpr std::size_t kMaxBlocks = 512;  // rows of up to 16384 values take the tiled path
  const std::size_t blocks = count > 0 ? xs[0].n / 32 : 0;
  const std::size_t tiles = blocks <= kMaxBlocks ? count / kTile : 0;
  thread_local std::vector<float> scales(kRowBlock * kMaxBlocks);
  thread_local std::vector<std::byte> packed;
  packed.resize(tiles * blocks * kTileBlockBytes);
  for (std::size_t tile = 0; tile < tiles; ++tile)
    PackTile(xs + tile * kTile, blocks, packed.data() + tile * blocks * kTileBlockBytes);
  for (std::size_t r0 = 0; r0 < row_count; r0 += kRowBlock) {
    const std::size_t r1 = std::min(row_count, r0 + kRowBlock);
    if (tiles > 0) {
      for (std::size_t r = r0; r < r1; ++r)
        for (std::size_t b = 0; b < blocks; ++b)
          scales[(r - r0) * kMaxBlocks + b] = BlockScale<Block>(rows + r * row_bytes, b);
    }
    for (std::size_t tile = 0; tile < tiles; ++tile) {
      for (std::size_t r = r0; r < r1; ++r) {
        RowTile<Block>(rows + r * row_bytes, scales.data() + (r - r0) * kMaxBlocks,
                       packed.data() + tile * blocks * kTileBlockBytes, blocks,
                       out + tile * kTile * stride + r, stride);
      }
    }
    for (std::size_t t = tiles * kTile; t < count; ++t) {
      for (std::size_t r = r0; r < r1; ++r)
        out[t * stride + r] = single(rows + r * row_bytes, xs[t]);
    }
  }
}

void MatmulQ4_0(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulTiles<BlockQ4_0>(rows, row_bytes, row_count, xs, count, out, stride, DotQ4_0);
}

void MatmulQ8(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
              const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulTiles<BlockQ8_0>(rows, row_bytes, row_count, xs, count, out, stride, DotQ8);
}

// Q4_0 planar (see TensorType), two blocks a step. One 32-byte load holds the quants of blocks b
// and b+1, so the low nibbles are [b's values 0-15 | b+1's 0-15] and the high ones [b's 16-31 |
// b+1's 16-31]; x.q_pairs holds the activations in that order. Both products add up in int16
// (at most 2 · 2 · 15 · 127 in size), and after the pair sums the low four int32 lanes belong to
// block b and the high four to b+1: one convert and one FMA for two blocks, with the two blocks'
// scales picked out of a vector of eight (converted from f16 in one instruction).
HWY_INLINE __m256i DotQ4PlanarPair(const Nibbles& w, const std::int8_t* xq) {
#if HWY_TARGET == HWY_AVX3_DL
  return _mm256_dpbusd_epi32(
      _mm256_dpbusd_epi32(_mm256_setzero_si256(), w.low,
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq))),
      w.high, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32)));
#else
  const __m256i sums = _mm256_add_epi16(
      _mm256_maddubs_epi16(w.low, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq))),
      _mm256_maddubs_epi16(w.high, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32))));
  return _mm256_madd_epi16(sums, _mm256_set1_epi16(1));
#endif
}

// The quants of blocks b and b+1 of a planar row, split into nibbles.
HWY_INLINE Nibbles LoadPair(const std::uint8_t* qs, std::size_t b) {
  return SplitNibbles(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + q4_0_planar_quants(b))));
}

HWY_INLINE __m256 LoadScales8(const std::byte* scales, std::size_t b) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 2 * b)));
}

// Lanes [2p ×4, 2p+1 ×4] of eight per-block values: the scales of pair p of the eight blocks.
HWY_INLINE __m256i PairPick(int p) {
  return _mm256_setr_epi32(2 * p, 2 * p, 2 * p, 2 * p, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1);
}

// The weight's zero point (8), per block: Σ(w - 8)x = Σwx - 8Σx, and x.block_offsets8 holds
// 8 · Σq · d_x, so eight blocks' zero points cost one FMA.
float DotQ4_0Planar(const std::byte* row, const QuantizedActivations& x) {
  const std::size_t blocks = x.n / 32;
  const auto* qs = reinterpret_cast<const std::uint8_t*>(row);
  const std::byte* scales = row + q4_0_planar_scale(blocks, 0);
  const __m256i pick0 = PairPick(0), pick1 = PairPick(1), pick2 = PairPick(2), pick3 = PairPick(3);
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  __m256 zero = _mm256_setzero_ps();
  std::size_t b = 0;
  for (; b + 8 <= blocks; b += 8) {
    // The 144 bytes of row these eight blocks span, kPrefetchAhead further on (quants, scales
    // and the next row alike: memory is read in order).
    Prefetch(row + 18 * b + kPrefetchAhead, 144);
    const __m256 dw = LoadScales8(scales, b);
    const __m256 s = _mm256_mul_ps(dw, _mm256_loadu_ps(x.d.data() + b));
    zero = _mm256_fmadd_ps(dw, _mm256_loadu_ps(x.block_offsets8.data() + b), zero);
    const std::int8_t* xq = x.q_pairs.data() + 32 * b;
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DotQ4PlanarPair(LoadPair(qs, b), xq)),
                           _mm256_permutevar8x32_ps(s, pick0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DotQ4PlanarPair(LoadPair(qs, b + 2), xq + 64)),
                           _mm256_permutevar8x32_ps(s, pick1), acc1);
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DotQ4PlanarPair(LoadPair(qs, b + 4), xq + 128)),
                           _mm256_permutevar8x32_ps(s, pick2), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DotQ4PlanarPair(LoadPair(qs, b + 6), xq + 192)),
                           _mm256_permutevar8x32_ps(s, pick3), acc1);
  }
  const float sum = HorizontalSum(_mm256_sub_ps(_mm256_add_ps(acc0, acc1), zero));
  return b < blocks ? sum + detail::dot_q4_0_planar_scalar(row, x, b) : sum;
}

// The activations of kTile tokens in the order RowTileQ4Planar reads them, so that one pointer
// and constant offsets reach every token (eight tokens' own pointers do not fit in registers
// beside the accumulators): per group of eight blocks, the tokens' zero points, then per pair of
// blocks the tokens' interleaved quants and their expanded scales.
constexpr std::size_t kPairBytes = kTile * (64 + 8 * sizeof(float));
constexpr std::size_t kGroupBytes = kTile * 8 * sizeof(float) + 4 * kPairBytes;

HWY_INLINE void PackTileQ4Planar(const QuantizedActivations* xs, std::size_t groups,
                                 std::byte* out) {
  for (std::size_t g = 0; g < groups; ++g) {
    std::byte* group = out + g * kGroupBytes;
    for (std::size_t k = 0; k < kTile; ++k)
      std::memcpy(group + 32 * k, xs[k].block_offsets8.data() + 8 * g, 32);
    for (std::size_t p = 0; p < 4; ++p) {
      const std::size_t pair = 8 * g + 2 * p;
      std::byte* quants = group + kTile * 32 + p * kPairBytes;
      std::byte* scales = quants + kTile * 64;
      for (std::size_t k = 0; k < kTile; ++k) {
        std::memcpy(quants + 64 * k, xs[k].q_pairs.data() + 32 * pair, 64);
        std::memcpy(scales + 32 * k, xs[k].d_pairs.data() + 4 * pair, 32);
      }
    }
  }
}

// One planar Q4_0 row against kTile token vectors (packed by PackTileQ4Planar), two blocks a
// step: the pair's quants are unpacked once for the tile's tokens.
HWY_INLINE void RowTileQ4Planar(const std::byte* row, std::size_t blocks, const std::byte* tile,
                                const QuantizedActivations* xs, float* out, std::size_t stride) {
  const auto* qs = reinterpret_cast<const std::uint8_t*>(row);
  const std::byte* scales = row + q4_0_planar_scale(blocks, 0);
  __m256 acc[kTile];
  for (auto& a : acc) a = _mm256_setzero_ps();
  std::size_t b = 0;
  for (; b + 8 <= blocks; b += 8, tile += kGroupBytes) {
    const __m256 dw8 = LoadScales8(scales, b);
    // The eight blocks' zero points straight into each token's accumulator: its lanes are
    // summed in the end whatever they hold.
    const auto* zero_points = reinterpret_cast<const float*>(tile);
    for (std::size_t k = 0; k < kTile; ++k)
      acc[k] = _mm256_fnmadd_ps(dw8, _mm256_loadu_ps(zero_points + 8 * k), acc[k]);
    for (int p = 0; p < 4; ++p) {
      const std::size_t pair = b + 2 * static_cast<std::size_t>(p);
      const __m256 dw_pair = _mm256_permutevar8x32_ps(dw8, PairPick(p));
      const Nibbles w = LoadPair(qs, pair);
      const std::byte* quants = tile + kTile * 32 + static_cast<std::size_t>(p) * kPairBytes;
      const auto* dx = reinterpret_cast<const float*>(quants + kTile * 64);
      for (std::size_t k = 0; k < kTile; ++k) {
        const auto* xq = reinterpret_cast<const std::int8_t*>(quants + 64 * k);
        acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DotQ4PlanarPair(w, xq)),
                                 _mm256_mul_ps(dw_pair, _mm256_loadu_ps(dx + 8 * k)), acc[k]);
      }
    }
  }
  for (std::size_t k = 0; k < kTile; ++k) {
    const float tail = b < blocks ? detail::dot_q4_0_planar_scalar(row, xs[k], b) : 0.0f;
    out[k * stride] = HorizontalSum(acc[k]) + tail;
  }
}

void MatmulQ4_0Planar(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                      const QuantizedActivations* xs, std::size_t count, float* out,
                      std::size_t stride) {
  constexpr std::size_t kRowBlock = 32;
  const std::size_t blocks = count > 0 ? xs[0].n / 32 : 0;
  // Tiles pay for their packing only on full prompt batches, if at all: on a Zen host a step of
  // 8 or 16 decode tokens ran at 77 / 93 tokens/s through tiles and 116 / 120 through one dot per
  // row and token; prompt batches of 32 at 118 against 126, of 64 at 130 against 137
  // (bench/README.md, issue 13). Kept for full batches, where an earlier host gained from them.
  constexpr std::size_t kTilesFrom = 64;
  const std::size_t tiles = count >= kTilesFrom ? count / kTile : 0;
  const std::size_t tile_bytes = blocks / 8 * kGroupBytes;
  thread_local std::vector<std::byte> packed;
  packed.resize(tiles * tile_bytes);
  for (std::size_t tile = 0; tile < tiles; ++tile)
    PackTileQ4Planar(xs + tile * kTile, blocks / 8, packed.data() + tile * tile_bytes);
  for (std::size_t r0 = 0; r0 < row_count; r0 += kRowBlock) {
    const std::size_t r1 = std::min(row_count, r0 + kRowBlock);
    for (std::size_t tile = 0; tile < tiles; ++tile) {
      for (std::size_t r = r0; r < r1; ++r) {
        RowTileQ4Planar(rows + r * row_bytes, blocks, packed.data() + tile * tile_bytes,
                        xs + tile * kTile, out + tile * kTile * stride + r, stride);
      }
    }
    for (std::size_t t = tiles * kTile; t < count; ++t) {
      for (std::size_t r = r0; r < r1; ++r)
        out[t * stride + r] = DotQ4_0Planar(rows + r * row_bytes, xs[t]);
    }
  }
}

// Every 16-bit lane of a 128-bit half of the result holds word `low` (low half) or `high` (high
// half) of each half of v: a broadcast of one scale per half, in one shuffle.
HWY_INLINE __m256i BroadcastWords(__m256i v, int low, int high) {
  const auto pick = [](int word) { return static_cast<short>(((2 * word + 1) << 8) | (2 * word)); };
  return _mm256_shuffle_epi8(
      v, _mm256_set_m128i(_mm_set1_epi16(pick(high)), _mm_set1_epi16(pick(low))));
}

// The 8 six-bit scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K block, as
// unpack_q4_k_scales gives them, in a few word operations instead of a loop over bytes.
HWY_INLINE __m128i Q4KScalesAndMins(const std::uint8_t packed[12]) {
  constexpr std::uint32_t kLow6 = 0x3F3F3F3F, kLow4 = 0x0F0F0F0F, kLow2 = 0x03030303;
  std::uint32_t w[3];
  std::memcpy(w, packed, 12);
  const std::uint32_t scales_low = w[0] & kLow6;
  const std::uint32_t scales_high = (w[2] & kLow4) | (((w[0] >> 6) & kLow2) << 4);
  const std::uint32_t mins_low = w[1] & kLow6;
  const std::uint32_t mins_high = ((w[2] >> 4) & kLow4) | (((w[1] >> 6) & kLow2) << 4);
  return _mm_setr_epi32(static_cast<int>(scales_low), static_cast<int>(scales_high),
                        static_cast<int>(mins_low), static_cast<int>(mins_high));
}

// Q4_K against the super-block quantization: each sub-block's pair sums are weighted by its
// 6-bit scale in the integer multiply-add, so a super-block costs one float FMA for its scales
// and one for its minimums (Σ min_j · Σx over sub-block j, from the activations' 16-sums).
float DotQ4_K(const std::byte* row, const QuantizedActivations& x) {
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    const auto* block = reinterpret_cast<const BlockQ4_K*>(row + b * sizeof(BlockQ4_K));
    Prefetch(row + b * sizeof(BlockQ4_K) + kPrefetchAhead, sizeof(BlockQ4_K));
    const __m128i scales_and_mins = Q4KScalesAndMins(block->scales);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_and_mins));
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
    __m256i sums = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const Nibbles w = SplitNibbles(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qs + 32 * chunk)));
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 64 * chunk));
      const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 64 * chunk + 32));
      const int j = 2 * chunk;
      sums = _mm256_add_epi32(
          sums, _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(w.low, v0),
                                                   BroadcastWords(scales, j, j)),
                                 _mm256_madd_epi16(_mm256_maddubs_epi16(w.high, v1),
                                                   BroadcastWords(scales, j + 1, j + 1))));
    }
    // Minimums: min_j for both 16-sums of sub-block j.
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_and_mins, scales_and_mins));
    const __m256i xsums =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.ksums16.data() + 16 * b));
    std::uint16_t bits;
    std::memcpy(&bits, &block->d, 2);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(Half(bits) * x.dk[b]), acc);
    std::memcpy(&bits, &block->dmin, 2);
    acc_mins = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(xsums, mins)),
                               _mm256_set1_ps(Half(bits) * x.dk[b]), acc_mins);
  }
  return HorizontalSum(_mm256_sub_ps(acc, acc_mins));
}

// The batched prompt's Q4_K kernel: one row against kTileK tokens, each 64 values' nibbles and
// scales unpacked once for all of them. Four tokens, not eight: a token keeps an integer and a
// float accumulator, and the unpacked weights need registers too.
constexpr std::size_t kTileK = 4;

HWY_INLINE void RowTileQ4K(const std::byte* row, std::size_t super_blocks,
                           const QuantizedActivations* xs, float* out, std::size_t stride) {
  __m256 acc[kTileK];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (std::size_t b = 0; b < super_blocks; ++b) {
    const auto* block = reinterpret_cast<const BlockQ4_K*>(row + b * sizeof(BlockQ4_K));
    const __m128i scales_and_mins = Q4KScalesAndMins(block->scales);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_and_mins));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_and_mins, scales_and_mins));
    __m256i sums[kTileK];
    for (auto& s : sums) s = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const Nibbles w = SplitNibbles(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qs + 32 * chunk)));
      const __m256i low_scale = BroadcastWords(scales, 2 * chunk, 2 * chunk);
      const __m256i high_scale = BroadcastWords(scales, 2 * chunk + 1, 2 * chunk + 1);
      for (std::size_t k = 0; k < kTileK; ++k) {
        const std::int8_t* xq = xs[k].qk.data() + kSuperBlock * b + 64 * chunk;
        const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
        const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32));
        sums[k] = _mm256_add_epi32(
            sums[k],
            _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(w.low, v0), low_scale),
                             _mm256_madd_epi16(_mm256_maddubs_epi16(w.high, v1), high_scale)));
      }
    }
    std::uint16_t bits;
    std::memcpy(&bits, &block->d, 2);
    const float d = Half(bits);
    std::memcpy(&bits, &block->dmin, 2);
    const float dmin = Half(bits);
    for (std::size_t k = 0; k < kTileK; ++k) {
      const __m256i xsums =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[k].ksums16.data() + 16 * b));
      const float dx = xs[k].dk[b];
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[k]), _mm256_set1_ps(d * dx), acc[k]);
      acc[k] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(xsums, mins)),
                                _mm256_set1_ps(dmin * dx), acc[k]);
    }
  }
  for (std::size_t k = 0; k < kTileK; ++k) out[k * stride] = HorizontalSum(acc[k]);
}

void MatmulQ4_K(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  constexpr std::size_t kRowBlock = 16;
  const std::size_t super_blocks = count > 0 ? xs[0].n / kSuperBlock : 0;
  const std::size_t tiles = count / kTileK;
  for (std::size_t r0 = 0; r0 < row_count; r0 += kRowBlock) {
    const std::size_t r1 = std::min(row_count, r0 + kRowBlock);
    for (std::size_t tile = 0; tile < tiles; ++tile) {
      for (std::size_t r = r0; r < r1; ++r) {
        RowTileQ4K(rows + r * row_bytes, super_blocks, xs + tile * kTileK,
                   out + tile * kTileK * stride + r, stride);
      }
    }
    for (std::size_t t = tiles * kTileK; t < count; ++t) {
      for (std::size_t r = r0; r < r1; ++r)
        out[t * stride + r] = DotQ4_K(rows + r * row_bytes, xs[t]);
    }
  }
}

// Q6_K against the super-block quantization: 6-bit q (0-63) meets x unsigned-by-signed, each
// 16 values' scale weights the pair sums in the integer multiply-add, and the zero point (32)
// comes off once per super-block: 32 · Σ scale_g · Σx over group g.
float DotQ6_K(const std::byte* row, const QuantizedActivations& x) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(3);
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    const auto* block = reinterpret_cast<const BlockQ6_K*>(row + b * sizeof(BlockQ6_K));
    Prefetch(row + b * sizeof(BlockQ6_K) + kPrefetchAhead, sizeof(BlockQ6_K));
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block->scales)));
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
    __m256i sums = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const std::uint8_t* ql = block->ql + 64 * half;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qh + 32 * half));
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, low_nibbles),
                          _mm256_slli_epi16(_mm256_and_si256(h, two_bits), 4)),
          _mm256_or_si256(
              _mm256_and_si256(l1, low_nibbles),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), two_bits), 4)),
          _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(l0, 4), low_nibbles),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), two_bits), 4)),
          _mm256_or_si256(
              _mm256_and_si256(_mm256_srli_epi16(l1, 4), low_nibbles),
              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), two_bits), 4)),
      };
      // This half's eight scales in both 128-bit halves.
      const __m256i half_scales = half == 0 ? _mm256_permute2x128_si256(scales16, scales16, 0x00)
                                            : _mm256_permute2x128_si256(scales16, scales16, 0x11);
      for (int run = 0; run < 4; ++run) {
        const __m256i v =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 128 * half + 32 * run));
        // Values 0-15 of the run have scale 2·run of the half, values 16-31 scale 2·run+1.
        sums = _mm256_add_epi32(
            sums, _mm256_madd_epi16(_mm256_maddubs_epi16(q[run], v),
                                    BroadcastWords(half_scales, 2 * run, 2 * run + 1)));
      }
    }
    const __m256i xsums =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.ksums16.data() + 16 * b));
    sums = _mm256_sub_epi32(sums, _mm256_slli_epi32(_mm256_madd_epi16(scales16, xsums), 5));
    std::uint16_t bits;
    std::memcpy(&bits, &block->d, 2);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(Half(bits) * x.dk[b]), acc);
  }
  return HorizontalSum(acc);
}

// A decoded integer row, 32 values a step: |q| with the sign moved onto the activations (both
// within ±127, so the unsigned-by-signed products cannot saturate), groups 0 and 1 of the block
// in the low and high four lanes.
float DotIntegerRow(const std::int8_t* q, const float* scale, const float* offset,
                    const QuantizedActivations& x, bool super) {
  const std::size_t blocks = x.n / 32;
  const std::int8_t* xq = super ? x.qk.data() : x.q.data();
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (std::size_t b = 0; b < blocks; ++b) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * b));
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * b));
    const __m256i sums = DotU8I8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    const float d = super ? x.dk[b / 8] : x.d[b];
    const float xsum0 = super ? x.ksums16[2 * b] : static_cast<float>(x.sums16[2 * b]);
    const float xsum1 = super ? x.ksums16[2 * b + 1] : static_cast<float>(x.sums16[2 * b + 1]);
    const __m256 s =
        _mm256_set_m128(_mm_set1_ps(scale[2 * b + 1] * d), _mm_set1_ps(scale[2 * b] * d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), s, acc);
    offsets += d * (offset[2 * b] * xsum0 + offset[2 * b + 1] * xsum1);
  }
  return HorizontalSum(acc) + offsets;
}

#else  // portable targets: the same integer sums in plain C++

float DotIntegerRow(const std::int8_t* q, const float* scale, const float* offset,
                    const QuantizedActivations& x, bool super) {
  return detail::dot_integer_row_scalar(q, scale, offset, x, super);
}

float DotQ8(const std::byte* row, const QuantizedActivations& x) {
  return detail::dot_q8_scalar(row, x);
}
float DotQ4_0(const std::byte* row, const QuantizedActivations& x) {
  return detail::dot_q4_0_scalar(row, x);
}
float DotQ4_0Planar(const std::byte* row, const QuantizedActivations& x) {
  return detail::dot_q4_0_planar_scalar(row, x);
}
float DotQ4_K(const std::byte* row, const QuantizedActivations& x) {
  return detail::dot_q4_k_scalar(row, x);
}
float DotQ6_K(const std::byte* row, const QuantizedActivations& x) {
  return detail::dot_q6_k_scalar(row, x);
}

// Every row against every vector, one dot product each.
template <float (*Dot)(const std::byte*, const QuantizedActivations&)>
void MatmulByDots(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                  const QuantizedActivations* xs, std::size_t count, float* out,
                  std::size_t stride) {
  for (std::size_t r = 0; r < row_count; ++r)
    for (std::size_t t = 0; t < count; ++t) out[t * stride + r] = Dot(rows + r * row_bytes, xs[t]);
}

void MatmulQ4_0(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulByDots<DotQ4_0>(rows, row_bytes, row_count, xs, count, out, stride);
}
void MatmulQ8(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
              const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulByDots<DotQ8>(rows, row_bytes, row_count, xs, count, out, stride);
}
void MatmulQ4_0Planar(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                      const QuantizedActivations* xs, std::size_t count, float* out,
                      std::size_t stride) {
  MatmulByDots<DotQ4_0Planar>(rows, row_bytes, row_count, xs, count, out, stride);
}
void MatmulQ4_K(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulByDots<DotQ4_K>(rows, row_bytes, row_count, xs, count, out, stride);
}

#endif

// Q8_0 cache rows (blocks of 32 int8 with an F16 scale): keys against the query quantized once;
// values widened to float a vector at a time and summed with the output in registers.
void DotRowsQ8(const std::byte* rows, std::size_t stride, std::size_t count,
               const QuantizedActivations& x, float* out) {
  for (std::size_t r = 0; r < count; ++r) out[r] = DotQ8(rows + r * stride, x);
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

const char* TargetName() {
  return hwy::TargetName(HWY_TARGET);
}

}  // namespace llorch::engine::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace llorch::engine {

HWY_EXPORT(DotF32);
HWY_EXPORT(DotF16);
HWY_EXPORT(AxpyF16);
HWY_EXPORT(DotRowsF16);
HWY_EXPORT(DotRowsF32);
HWY_EXPORT(AxpyRowsF16);
HWY_EXPORT(AxpyRowsF32);
HWY_EXPORT(DotRowsQ8);
HWY_EXPORT(AxpyRowsQ8);
HWY_EXPORT(DotQ8);
HWY_EXPORT(DotQ4_0);
HWY_EXPORT(DotQ4_K);
HWY_EXPORT(DotQ6_K);
HWY_EXPORT(MatmulQ4_0);
HWY_EXPORT(MatmulQ8);
HWY_EXPORT(DotQ4_0Planar);
HWY_EXPORT(MatmulQ4_0Planar);
HWY_EXPORT(MatmulQ4_K);
HWY_EXPORT(TargetName);
HWY_EXPORT(DotIntegerRow);

namespace {

// One row of a block-decoded integer type, decoded into this thread's buffers.
struct DecodedRow {
  std::vector<std::int8_t> q;
  std::vector<float> scale;
  std::vector<float> offset;
  IntegerRow decode(TensorType type, const std::byte* row, std::size_t n) {
    q.resize(n);
    scale.resize(n / 16);
    offset.resize(n / 16);
    const IntegerRow out{q.data(), scale.data(), offset.data()};
    decode_integer(type, row, n, out);
    return out;
  }
};

DecodedRow& decoded_row() {
  thread_local DecodedRow row;
  return row;
}

}  // namespace

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
  pair_offsets8.resize(count / 2);
  for (std::size_t i = 0; i < count / 2; ++i)
    pair_offsets8[i] = static_cast<std::int16_t>(8 * (q[2 * i] + q[2 * i + 1]));
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
  d_pairs.resize(count / 8);
  for (std::size_t b = 0; b < count / 32; ++b) std::fill_n(d_pairs.data() + 4 * b, 4, d[b]);

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

void simd_axpy_f16(float a, const std::byte* v, float* out, std::size_t n) noexcept {
  HWY_DYNAMIC_DISPATCH(AxpyF16)(a, v, out, n);
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
  if (type == TensorType::f16) return HWY_DYNAMIC_DISPATCH(DotF16)(row, x, n);
  if (is_block_decoded(type)) {
    return dot_decoded(type, row, x, n, [](const float* a, const float* b, std::size_t count) {
      return HWY_DYNAMIC_DISPATCH(DotF32)(a, b, count);
    });
  }
  return HWY_DYNAMIC_DISPATCH(DotF32)(reinterpret_cast<const float*>(row), x, n);
}

float simd_dot_quantized(TensorType type, const std::byte* row,
                         const QuantizedActivations& x) noexcept {
  switch (type) {
    case TensorType::q8_0:
      return HWY_DYNAMIC_DISPATCH(DotQ8)(row, x);
    case TensorType::q4_0:
      return HWY_DYNAMIC_DISPATCH(DotQ4_0)(row, x);
    case TensorType::q4_0_planar:
      return HWY_DYNAMIC_DISPATCH(DotQ4_0Planar)(row, x);
    case TensorType::q4_k:
      return HWY_DYNAMIC_DISPATCH(DotQ4_K)(row, x);
    case TensorType::q6_k:
      return HWY_DYNAMIC_DISPATCH(DotQ6_K)(row, x);
    default:
      break;
  }
  if (is_integer_decoded(type)) {
    const IntegerRow r = decoded_row().decode(type, row, x.n);
    return HWY_DYNAMIC_DISPATCH(DotIntegerRow)(r.q, r.scale, r.offset, x, uses_super_blocks(type));
  }
  return 0.0f;
}

void simd_matmul_quantized(TensorType type, const std::byte* rows, std::size_t row_bytes,
                           std::size_t row_count, const QuantizedActivations* xs, std::size_t count,
                           float* out, std::size_t stride) noexcept {
  switch (type) {
    case TensorType::q4_0:
      return HWY_DYNAMIC_DISPATCH(MatmulQ4_0)(rows, row_bytes, row_count, xs, count, out, stride);
    case TensorType::q4_0_planar:
      return HWY_DYNAMIC_DISPATCH(MatmulQ4_0Planar)(rows, row_bytes, row_count, xs, count, out,
                                                    stride);
    case TensorType::q4_k:
      return HWY_DYNAMIC_DISPATCH(MatmulQ4_K)(rows, row_bytes, row_count, xs, count, out, stride);
    case TensorType::q8_0:
      return HWY_DYNAMIC_DISPATCH(MatmulQ8)(rows, row_bytes, row_count, xs, count, out, stride);
    default:
      if (is_integer_decoded(type)) {
        // Each row decoded once for every token of the batch.
        for (std::size_t r = 0; r < row_count; ++r) {
          const IntegerRow ir = decoded_row().decode(type, rows + r * row_bytes, xs[0].n);
          for (std::size_t t = 0; t < count; ++t)
            out[t * stride + r] = HWY_DYNAMIC_DISPATCH(DotIntegerRow)(
                ir.q, ir.scale, ir.offset, xs[t], uses_super_blocks(type));
        }
        return;
      }
      for (std::size_t r = 0; r < row_count; ++r)
        for (std::size_t t = 0; t < count; ++t)
          out[t * stride + r] = simd_dot_quantized(type, rows + r * row_bytes, xs[t]);
  }
}

float scalar_dot_quantized(TensorType type, const std::byte* row,
                           const QuantizedActivations& x) noexcept {
  switch (type) {
    case TensorType::q8_0:
      return detail::dot_q8_scalar(row, x);
    case TensorType::q4_0:
      return detail::dot_q4_0_scalar(row, x);
    case TensorType::q4_0_planar:
      return detail::dot_q4_0_planar_scalar(row, x);
    case TensorType::q4_k:
      return detail::dot_q4_k_scalar(row, x);
    case TensorType::q6_k:
      return detail::dot_q6_k_scalar(row, x);
    default:
      break;
  }
  if (is_integer_decoded(type)) {
    const IntegerRow r = decoded_row().decode(type, row, x.n);
    return detail::dot_integer_row_scalar(r.q, r.scale, r.offset, x, uses_super_blocks(type));
  }
  return 0.0f;
}

std::string_view simd_target_name() {
  return HWY_DYNAMIC_DISPATCH(TargetName)();
}

}  // namespace llorch::engine
#endif  // HWY_ONCE
