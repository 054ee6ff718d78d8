// The integer kernels of the x86 targets with AVX2 (AVX2, AVX-512, AVX-512 with VNNI), placed by
// hand where their instructions win: maddubs (32 unsigned-by-signed byte products and their pair
// sums in one instruction) and, with VNNI, dpbusd (the products' sums of four straight into
// int32). Every other target runs int8_kernels_portable-inl.hpp.
// Per-target code: included by simd_kernels.cpp once for every target Highway compiles
// (foreach_target.h), hence the toggling include guard instead of #pragma once.
#if defined(LLORCH_ENGINE_INT8_KERNELS_X86_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef LLORCH_ENGINE_INT8_KERNELS_X86_INL_
#undef LLORCH_ENGINE_INT8_KERNELS_X86_INL_
#else
#define LLORCH_ENGINE_INT8_KERNELS_X86_INL_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/block_decoders.hpp"
#include "engine/decoded_block_scales.hpp"
#include "engine/scalar_kernels.hpp"
#include "engine/simd_kernels.hpp"

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace llorch::engine::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL

#if HWY_TARGET == HWY_AVX3_DL
// Highway 1.0 selects AVX3_DL on AVX512_VNNI (Ice Lake, Zen 4 and later) but compiles it for
// AVX-VNNI, the VEX encoding only Alder Lake, Sapphire Rapids and Zen 5 have: vpdpbusd would be an
// illegal instruction on the others. With AVX512_VNNI enabled and AVX-VNNI disabled here GCC
// emits the EVEX encoding, which every CPU Highway gives this target runs (`objdump -d | grep
// "{vex} vpdp"` finds nothing in the binary, GCC or clang).
HWY_POP_ATTRIBUTES  // Highway's, from HWY_BEFORE_NAMESPACE
HWY_PUSH_ATTRIBUTES(HWY_TARGET_STR ",avx512vnni,no-avxvnni")
#endif

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
// TinyLlama-shape Q4_0 token went from 27 to 36 tok/s; 6 KB (about a DRAM latency at one core's
// share of the bandwidth) took a one-thread Q4_K matvec from 23-26 to 30-31 GB/s (bench/README.md).
constexpr std::size_t kPrefetchAhead = 6144;

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

// Σ (w - 8) x = Σ w x - Σ 8 x: the second sum, per pair of values, is one more maddubs (8 times
// the activations), so the zero point costs one subtraction per block.
HWY_INLINE __m256i DotQ4_0Block(const std::byte* row, std::size_t b,
                                const QuantizedActivations& x) {
  const __m256i v = LoadX(x, b);
  const __m256i products = _mm256_maddubs_epi16(LoadQ4_0(row, b), v);
  const __m256i offsets = _mm256_maddubs_epi16(_mm256_set1_epi8(8), v);
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

// A few tokens (a decode step of several sequences) against one Q8_0 row, each pair of blocks
// loaded once for all of them, the tokens' activations read where they are (no packing, which
// costs more than it saves below a prompt-sized batch). Each token's sums are the same float
// operations in the same order as DotQ8's, so a sequence decodes the same tokens alone or batched.
template <std::size_t kN>
HWY_INLINE void RowFewQ8(const std::byte* row, const QuantizedActivations* xs, float* out,
                         std::size_t stride) {
  const std::size_t blocks = xs[0].n / 32;
  __m256 acc0[kN];
  __m256 acc1[kN];
  for (std::size_t k = 0; k < kN; ++k) acc0[k] = acc1[k] = _mm256_setzero_ps();
  std::size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    Prefetch(row + b * sizeof(BlockQ8_0) + kPrefetchAhead, 2 * sizeof(BlockQ8_0));
    const __m256i w0 = LoadQ8(row, b), w1 = LoadQ8(row, b + 1);
    const __m256i m0 = _mm256_sign_epi8(w0, w0), m1 = _mm256_sign_epi8(w1, w1);
    const float d0 = BlockScale<BlockQ8_0>(row, b), d1 = BlockScale<BlockQ8_0>(row, b + 1);
    for (std::size_t k = 0; k < kN; ++k) {
      const __m256i p0 = DotU8I8(m0, _mm256_sign_epi8(LoadX(xs[k], b), w0));
      const __m256i p1 = DotU8I8(m1, _mm256_sign_epi8(LoadX(xs[k], b + 1), w1));
      acc0[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(d0 * xs[k].d[b]), acc0[k]);
      acc1[k] =
          _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(d1 * xs[k].d[b + 1]), acc1[k]);
    }
  }
  if (b < blocks) {
    const __m256i w = LoadQ8(row, b);
    const __m256i m = _mm256_sign_epi8(w, w);
    const float d = BlockScale<BlockQ8_0>(row, b);
    for (std::size_t k = 0; k < kN; ++k) {
      const __m256i p = DotU8I8(m, _mm256_sign_epi8(LoadX(xs[k], b), w));
      acc0[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * xs[k].d[b]), acc0[k]);
    }
  }
  for (std::size_t k = 0; k < kN; ++k)
    out[k * stride] = HorizontalSum(_mm256_add_ps(acc0[k], acc1[k]));
}

// Tokens [t, count) against row r, up to four at a time through `few`, one by `single`.
template <void (*Few4)(const std::byte*, const QuantizedActivations*, float*, std::size_t),
          void (*Few3)(const std::byte*, const QuantizedActivations*, float*, std::size_t),
          void (*Few2)(const std::byte*, const QuantizedActivations*, float*, std::size_t),
          float (*Single)(const std::byte*, const QuantizedActivations&)>
HWY_INLINE void RemainingTokens(const std::byte* row, const QuantizedActivations* xs, std::size_t t,
                                std::size_t count, float* out, std::size_t stride) {
  while (t < count) {
    const std::size_t n = std::min<std::size_t>(4, count - t);
    float* o = out + t * stride;
    if (n == 4) {
      Few4(row, xs + t, o, stride);
    } else if (n == 3) {
      Few3(row, xs + t, o, stride);
    } else if (n == 2) {
      Few2(row, xs + t, o, stride);
    } else {
      *o = Single(row, xs[t]);
    }
    t += n;
  }
}

// Rows [0, row_count) against every token vector: rows in blocks of 32, so that a block's rows
// stay in L1 while the batch's tokens (four at a time where there is a kernel for it) pass over
// them. Packed 8-token tiles used to serve prompt-sized batches here; the few-token kernels,
// which read the tokens in place, beat them at every size on the hosts measured (pp64 Q4_0
// 145 → 149, Q8_0 114 → 121 tok/s; bench/README.md, issue 14).
template <float (*Single)(const std::byte*, const QuantizedActivations&),
          void (*Few4)(const std::byte*, const QuantizedActivations*, float*, std::size_t),
          void (*Few3)(const std::byte*, const QuantizedActivations*, float*, std::size_t),
          void (*Few2)(const std::byte*, const QuantizedActivations*, float*, std::size_t)>
HWY_INLINE void MatmulRows(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                           const QuantizedActivations* xs, std::size_t count, float* out,
                           std::size_t stride) {
  constexpr std::size_t kRowBlock = 32;
  for (std::size_t r0 = 0; r0 < row_count; r0 += kRowBlock) {
    const std::size_t r1 = std::min(row_count, r0 + kRowBlock);
    for (std::size_t r = r0; r < r1; ++r) {
      RemainingTokens<Few4, Few3, Few2, Single>(rows + r * row_bytes, xs, 0, count, out + r,
                                                stride);
    }
  }
}

void MatmulQ4_0(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  // Loading lays Q4_0 out planar; this layout only meets the kernels in tests and tools.
  for (std::size_t r = 0; r < row_count; ++r)
    for (std::size_t t = 0; t < count; ++t)
      out[t * stride + r] = DotQ4_0(rows + r * row_bytes, xs[t]);
}

void MatmulQ8(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
              const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulRows<DotQ8, RowFewQ8<4>, RowFewQ8<3>, RowFewQ8<2>>(rows, row_bytes, row_count, xs, count,
                                                           out, stride);
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
  return b < blocks ? sum + scalar::dot_q4_0_planar(row, x, b) : sum;
}

// A few tokens against one planar Q4_0 row (see RowFewQ8): each pair of blocks unpacked once for
// all of them; per token the same float operations in the same order as DotQ4_0Planar's.
template <std::size_t kN>
HWY_INLINE void RowFewQ4Planar(const std::byte* row, const QuantizedActivations* xs, float* out,
                               std::size_t stride) {
  const std::size_t blocks = xs[0].n / 32;
  const auto* qs = reinterpret_cast<const std::uint8_t*>(row);
  const std::byte* scales = row + q4_0_planar_scale(blocks, 0);
  const __m256i pick[4] = {PairPick(0), PairPick(1), PairPick(2), PairPick(3)};
  __m256 acc0[kN];
  __m256 acc1[kN];
  __m256 zero[kN];
  for (std::size_t k = 0; k < kN; ++k) acc0[k] = acc1[k] = zero[k] = _mm256_setzero_ps();
  std::size_t b = 0;
  for (; b + 8 <= blocks; b += 8) {
    Prefetch(row + 18 * b + kPrefetchAhead, 144);
    const __m256 dw = LoadScales8(scales, b);
    __m256 s[kN];
    for (std::size_t k = 0; k < kN; ++k) {
      s[k] = _mm256_mul_ps(dw, _mm256_loadu_ps(xs[k].d.data() + b));
      zero[k] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xs[k].block_offsets8.data() + b), zero[k]);
    }
    for (int p = 0; p < 4; ++p) {
      const Nibbles w = LoadPair(qs, b + 2 * static_cast<std::size_t>(p));
      for (std::size_t k = 0; k < kN; ++k) {
        const std::int8_t* xq = xs[k].q_pairs.data() + 32 * b + 64 * p;
        __m256& acc = p % 2 == 0 ? acc0[k] : acc1[k];
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DotQ4PlanarPair(w, xq)),
                              _mm256_permutevar8x32_ps(s[k], pick[p]), acc);
      }
    }
  }
  for (std::size_t k = 0; k < kN; ++k) {
    const float sum = HorizontalSum(_mm256_sub_ps(_mm256_add_ps(acc0[k], acc1[k]), zero[k]));
    out[k * stride] = b < blocks ? sum + scalar::dot_q4_0_planar(row, xs[k], b) : sum;
  }
}

void MatmulQ4_0Planar(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                      const QuantizedActivations* xs, std::size_t count, float* out,
                      std::size_t stride) {
  MatmulRows<DotQ4_0Planar, RowFewQ4Planar<4>, RowFewQ4Planar<3>, RowFewQ4Planar<2>>(
      rows, row_bytes, row_count, xs, count, out, stride);
}

// Every 16-bit lane of a 128-bit half of the result holds word `low` (low half) or `high` (high
// half) of each half of v: a broadcast of one scale per half, in one shuffle.
HWY_INLINE __m256i BroadcastWords(__m256i v, int low, int high) {
  const auto pick = [](int word) { return static_cast<short>(((2 * word + 1) << 8) | (2 * word)); };
  return _mm256_shuffle_epi8(
      v, _mm256_set_m128i(_mm_set1_epi16(pick(high)), _mm_set1_epi16(pick(low))));
}

// The 8 six-bit scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K block, as
// unpack_q4_k_scales gives them: the three packed words in vector lanes, each output word's low
// bits and its two high bits placed by one shuffle, shift and mask apiece. Reads 16 bytes from
// `packed`: in Q4_K and Q5_K the four after the scales are the block's own quants.
HWY_INLINE __m128i Q4KScalesAndMins(const std::uint8_t* packed) {
  constexpr int kLow6 = 0x3F3F3F3F, kLow4 = 0x0F0F0F0F, kBits45 = 0x30303030;
  const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));  // w0 w1 w2 -
  // scales low = w0 & 63, mins low = w1 & 63; the high parts' low four bits from w2's nibbles.
  const __m128i lows = _mm_srlv_epi32(_mm_shuffle_epi32(w, _MM_SHUFFLE(2, 1, 2, 0)),
                                      _mm_setr_epi32(0, 0, 0, 4));  // w0 w2 w1 w2>>4
  const __m128i low_bits = _mm_and_si128(lows, _mm_setr_epi32(kLow6, kLow4, kLow6, kLow4));
  // Their bits 4-5: bits 6-7 of w0's (scales) and w1's (mins) bytes.
  const __m128i tops = _mm_srli_epi32(_mm_shuffle_epi32(w, _MM_SHUFFLE(1, 1, 0, 0)), 2);
  return _mm_or_si128(low_bits, _mm_and_si128(tops, _mm_setr_epi32(0, kBits45, 0, kBits45)));
}

// d · dk and dmin · dk of a K-quant block whose two halves start it (Q4_K, Q5_K), broadcast.
struct KBlockScales {
  __m256 d;
  __m256 dmin;
};
HWY_INLINE KBlockScales KScales(const void* block, float dk) {
  std::uint32_t halves;
  std::memcpy(&halves, block, 4);
  const __m128 both =
      _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(halves))), _mm_set1_ps(dk));
  return {_mm256_broadcastss_ps(both), _mm256_broadcastss_ps(_mm_movehdup_ps(both))};
}

// The 64 values of chunk `chunk` (0-3) of a Q4_K or Q5_K super-block, as unsigned bytes: the
// low nibbles are sub-block 2·chunk, the high ones 2·chunk + 1; Q5_K adds each value's fifth bit
// from qh (bit 2·chunk for the first sub-block, 2·chunk + 1 for the second).
// Bit `bit` of every byte of v moved to bit 4 (0x10 or 0), in one shift and one mask: a shift of
// at most 4 within 16-bit lanes brings nothing from the neighbouring byte into bit 4.
HWY_INLINE __m256i BitToFour(__m256i v, int bit) {
  const __m256i moved = bit <= 4 ? _mm256_sll_epi16(v, _mm_cvtsi32_si128(4 - bit))
                                 : _mm256_srl_epi16(v, _mm_cvtsi32_si128(bit - 4));
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

template <typename Block>
HWY_INLINE Nibbles LoadKChunk(const Block* block, int chunk) {
  Nibbles w =
      SplitNibbles(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qs + 32 * chunk)));
  if constexpr (std::is_same_v<Block, BlockQ5_K>) {
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qh));
    w.low = _mm256_or_si256(w.low, BitToFour(qh, 2 * chunk));
    w.high = _mm256_or_si256(w.high, BitToFour(qh, 2 * chunk + 1));
  }
  return w;
}

// acc + the pair sums of a and b (int16 lanes) in int32: one instruction with AVX-512 VNNI.
HWY_INLINE __m256i AddPairProducts(__m256i acc, __m256i a, __m256i b) {
#if HWY_TARGET == HWY_AVX3_DL
  return _mm256_dpwssd_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// GCC 12 warns inside its own _mm512_inserti64x4 and _mm512_broadcast_i64x4, whose pass-through
// operand is _mm512_undefined_epi32() under an all-ones mask: never read, a false positive.
#if HWY_COMPILER_GCC_ACTUAL
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// With AVX-512: two 64-value chunks a step in 512-bit registers (chunk c in the low half, c + 1
// in the high half), the scales placed once per step with vpermw. At the end the two halves are
// added, which leaves in each of the eight int32 lanes exactly the sum the 256-bit code below
// accumulates there: the float work after it, and so the result, is the same bit for bit.
HWY_INLINE __m512i AddPairProducts512(__m512i acc, __m512i a, __m512i b) {
#if HWY_TARGET == HWY_AVX3_DL
  return _mm512_dpwssd_epi32(acc, a, b);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}

// Two 16-bit lane values, one for each 256-bit half.
HWY_INLINE __m512i Halves16(int low, int high) {
  return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(low)),
                            _mm256_set1_epi16(static_cast<short>(high)), 1);
}

// Bit `low_bit` of each byte in the low half, `high_bit` in the high half, moved to bit 4.
HWY_INLINE __m512i BitsToFour512(__m512i v, int low_bit, int high_bit) {
  const auto left = [](int bit) { return bit <= 4 ? 4 - bit : 0; };
  const auto right = [](int bit) { return bit > 4 ? bit - 4 : 0; };
  const __m512i moved =
      _mm512_srlv_epi16(_mm512_sllv_epi16(v, Halves16(left(low_bit), left(high_bit))),
                        Halves16(right(low_bit), right(high_bit)));
  return _mm512_and_si512(moved, _mm512_set1_epi8(0x10));
}

// The two 32-byte runs at p and p + 64 (chunk c's and chunk c + 1's share of the activations).
HWY_INLINE __m512i LoadRunPair(const std::int8_t* p) {
  return _mm512_inserti64x4(
      _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64)), 1);
}

template <typename Block>
HWY_INLINE __m256i KSuperBlockSums(const Block* block, __m128i scales_and_mins,
                                   const std::int8_t* xq) {
  const __m512i scales = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(scales_and_mins));
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  __m512i sums_low = _mm512_setzero_si512();
  __m512i sums_high = _mm512_setzero_si512();
  for (int c = 0; c < 4; c += 2) {
    const __m512i q = _mm512_loadu_si512(block->qs + 32 * c);
    __m512i low = _mm512_and_si512(q, low_nibbles);
    __m512i high = _mm512_and_si512(_mm512_srli_epi16(q, 4), low_nibbles);
    if constexpr (std::is_same_v<Block, BlockQ5_K>) {
      const __m512i qh =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qh)));
      low = _mm512_or_si512(low, BitsToFour512(qh, 2 * c, 2 * c + 2));
      high = _mm512_or_si512(high, BitsToFour512(qh, 2 * c + 1, 2 * c + 3));
    }
    // Sub-blocks 2c and 2c + 2 (low nibbles), 2c + 1 and 2c + 3 (high nibbles).
    const __m512i scale_low = _mm512_permutexvar_epi16(Halves16(2 * c, 2 * c + 2), scales);
    const __m512i scale_high = _mm512_permutexvar_epi16(Halves16(2 * c + 1, 2 * c + 3), scales);
    sums_low = AddPairProducts512(sums_low, _mm512_maddubs_epi16(low, LoadRunPair(xq + 64 * c)),
                                  scale_low);
    sums_high = AddPairProducts512(
        sums_high, _mm512_maddubs_epi16(high, LoadRunPair(xq + 64 * c + 32)), scale_high);
  }
  const __m512i sums = _mm512_add_epi32(sums_low, sums_high);
  return _mm256_add_epi32(_mm512_castsi512_si256(sums), _mm512_extracti64x4_epi64(sums, 1));
}
#if HWY_COMPILER_GCC_ACTUAL
#pragma GCC diagnostic pop
#endif
#endif

// Q4_K and Q5_K against the super-block quantization: each sub-block's pair sums are weighted by
// its 6-bit scale in the integer multiply-add, so a super-block costs one float FMA for its
// scales and one for its minimums (Σ min_j · Σx over sub-block j, from the activations' 16-sums).
template <typename Block>
HWY_INLINE float DotK(const std::byte* row, const QuantizedActivations& x) {
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    const auto* block = reinterpret_cast<const Block*>(row + b * sizeof(Block));
    Prefetch(row + b * sizeof(Block) + kPrefetchAhead, sizeof(Block));
    const __m128i scales_and_mins = Q4KScalesAndMins(block->scales);
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    const __m256i sums = KSuperBlockSums(block, scales_and_mins, xq);
#else
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_and_mins));
    // Two chains of integer sums (low and high sub-blocks), added once per super-block.
    __m256i sums_low = _mm256_setzero_si256();
    __m256i sums_high = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const Nibbles w = LoadKChunk(block, chunk);
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 64 * chunk));
      const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 64 * chunk + 32));
      const int j = 2 * chunk;
      sums_low =
          AddPairProducts(sums_low, _mm256_maddubs_epi16(w.low, v0), BroadcastWords(scales, j, j));
      sums_high = AddPairProducts(sums_high, _mm256_maddubs_epi16(w.high, v1),
                                  BroadcastWords(scales, j + 1, j + 1));
    }
    const __m256i sums = _mm256_add_epi32(sums_low, sums_high);
#endif
    // Minimums: min_j for both 16-sums of sub-block j.
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_and_mins, scales_and_mins));
    const __m256i xsums =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.ksums16.data() + 16 * b));
    const KBlockScales d = KScales(block, x.dk[b]);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), d.d, acc);
    acc_mins =
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(xsums, mins)), d.dmin, acc_mins);
  }
  return HorizontalSum(_mm256_sub_ps(acc, acc_mins));
}

float DotQ4_K(const std::byte* row, const QuantizedActivations& x) {
  return DotK<BlockQ4_K>(row, x);
}
float DotQ5_K(const std::byte* row, const QuantizedActivations& x) {
  return DotK<BlockQ5_K>(row, x);
}

// The batched prompt's K-quant kernels: one row against kTileK tokens, each 64 values' quants
// and scales unpacked once for all of them. Four tokens, not eight: a token keeps an integer and
// a float accumulator, and the unpacked weights need registers too.
constexpr std::size_t kTileK = 4;

template <typename Block>
HWY_INLINE void RowTileK(const std::byte* row, std::size_t super_blocks,
                         const QuantizedActivations* xs, float* out, std::size_t stride) {
  // Per token the same float operations in the same order as DotK's (a sequence decodes the
  // same tokens alone or batched): scales and minimums in accumulators of their own.
  __m256 acc[kTileK];
  __m256 acc_mins[kTileK];
  for (std::size_t k = 0; k < kTileK; ++k) acc[k] = acc_mins[k] = _mm256_setzero_ps();
  for (std::size_t b = 0; b < super_blocks; ++b) {
    const auto* block = reinterpret_cast<const Block*>(row + b * sizeof(Block));
    const __m128i scales_and_mins = Q4KScalesAndMins(block->scales);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_and_mins));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_and_mins, scales_and_mins));
    __m256i sums[kTileK];
    for (auto& s : sums) s = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const Nibbles w = LoadKChunk(block, chunk);
      const __m256i low_scale = BroadcastWords(scales, 2 * chunk, 2 * chunk);
      const __m256i high_scale = BroadcastWords(scales, 2 * chunk + 1, 2 * chunk + 1);
      for (std::size_t k = 0; k < kTileK; ++k) {
        const std::int8_t* xq = xs[k].qk.data() + kSuperBlock * b + 64 * chunk;
        const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
        const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32));
        sums[k] = AddPairProducts(sums[k], _mm256_maddubs_epi16(w.low, v0), low_scale);
        sums[k] = AddPairProducts(sums[k], _mm256_maddubs_epi16(w.high, v1), high_scale);
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
      acc_mins[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(xsums, mins)),
                                    _mm256_set1_ps(dmin * dx), acc_mins[k]);
    }
  }
  for (std::size_t k = 0; k < kTileK; ++k)
    out[k * stride] = HorizontalSum(_mm256_sub_ps(acc[k], acc_mins[k]));
}

// Rows [0, row_count) against every token: kTileK tokens at a time through `tile`, the rest one
// dot product each; rows in blocks of 16 so that a tile's activations stay in L1.
template <void (*Tile)(const std::byte*, std::size_t, const QuantizedActivations*, float*,
                       std::size_t),
          float (*Single)(const std::byte*, const QuantizedActivations&)>
HWY_INLINE void MatmulSuperBlocks(const std::byte* rows, std::size_t row_bytes,
                                  std::size_t row_count, const QuantizedActivations* xs,
                                  std::size_t count, float* out, std::size_t stride) {
  constexpr std::size_t kRowBlock = 16;
  const std::size_t super_blocks = count > 0 ? xs[0].n / kSuperBlock : 0;
  const std::size_t tiles = count / kTileK;
  for (std::size_t r0 = 0; r0 < row_count; r0 += kRowBlock) {
    const std::size_t r1 = std::min(row_count, r0 + kRowBlock);
    for (std::size_t tile = 0; tile < tiles; ++tile) {
      for (std::size_t r = r0; r < r1; ++r) {
        Tile(rows + r * row_bytes, super_blocks, xs + tile * kTileK,
             out + tile * kTileK * stride + r, stride);
      }
    }
    for (std::size_t t = tiles * kTileK; t < count; ++t) {
      for (std::size_t r = r0; r < r1; ++r)
        out[t * stride + r] = Single(rows + r * row_bytes, xs[t]);
    }
  }
}

// The four runs of 32 values of half `half` of a Q6_K super-block, as unsigned 6-bit q (the
// value + 32).
HWY_INLINE void LoadQ6Half(const BlockQ6_K* block, int half, __m256i q[4]) {
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(3);
  const std::uint8_t* ql = block->ql + 64 * half;
  const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
  const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block->qh + 32 * half));
  q[0] = _mm256_or_si256(_mm256_and_si256(l0, low_nibbles),
                         _mm256_slli_epi16(_mm256_and_si256(h, two_bits), 4));
  q[1] = _mm256_or_si256(_mm256_and_si256(l1, low_nibbles),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), two_bits), 4));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low_nibbles),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), two_bits), 4));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low_nibbles),
                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), two_bits), 4));
}

// Half `half`'s integer products of unpacked quants `q` with activations xq (the super-block's),
// each 16 values' scale weighting the pair sums in the integer multiply-add.
HWY_INLINE __m256i Q6HalfSums(const __m256i q[4], __m256i scales16, int half,
                              const std::int8_t* xq) {
  // This half's eight scales in both 128-bit halves.
  const __m256i half_scales = half == 0 ? _mm256_permute2x128_si256(scales16, scales16, 0x00)
                                        : _mm256_permute2x128_si256(scales16, scales16, 0x11);
  __m256i sums = _mm256_setzero_si256();
  for (int run = 0; run < 4; ++run) {
    const __m256i v =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 128 * half + 32 * run));
    // Values 0-15 of the run have scale 2·run of the half, values 16-31 scale 2·run+1.
    sums = _mm256_add_epi32(sums,
                            _mm256_madd_epi16(_mm256_maddubs_epi16(q[run], v),
                                              BroadcastWords(half_scales, 2 * run, 2 * run + 1)));
  }
  return sums;
}

// Q6_K against the super-block quantization: 6-bit q (0-63) meets x unsigned-by-signed, each
// 16 values' scale weights the pair sums in the integer multiply-add, and the zero point (32)
// comes off once per super-block: 32 · Σ scale_g · Σx over group g.
float DotQ6_K(const std::byte* row, const QuantizedActivations& x) {
  __m256 acc = _mm256_setzero_ps();
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    const auto* block = reinterpret_cast<const BlockQ6_K*>(row + b * sizeof(BlockQ6_K));
    Prefetch(row + b * sizeof(BlockQ6_K) + kPrefetchAhead, sizeof(BlockQ6_K));
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block->scales)));
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
    __m256i sums = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      __m256i q[4];
      LoadQ6Half(block, half, q);
      sums = _mm256_add_epi32(sums, Q6HalfSums(q, scales16, half, xq));
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

// One Q6_K row against kTileK tokens: each half's quants unpacked once for all of them.
HWY_INLINE void RowTileQ6K(const std::byte* row, std::size_t super_blocks,
                           const QuantizedActivations* xs, float* out, std::size_t stride) {
  __m256 acc[kTileK];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (std::size_t b = 0; b < super_blocks; ++b) {
    const auto* block = reinterpret_cast<const BlockQ6_K*>(row + b * sizeof(BlockQ6_K));
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block->scales)));
    __m256i sums[kTileK];
    for (std::size_t k = 0; k < kTileK; ++k) {
      const __m256i xsums =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[k].ksums16.data() + 16 * b));
      sums[k] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                 _mm256_slli_epi32(_mm256_madd_epi16(scales16, xsums), 5));
    }
    for (int half = 0; half < 2; ++half) {
      __m256i q[4];
      LoadQ6Half(block, half, q);
      for (std::size_t k = 0; k < kTileK; ++k)
        sums[k] = _mm256_add_epi32(
            sums[k], Q6HalfSums(q, scales16, half, xs[k].qk.data() + kSuperBlock * b));
    }
    std::uint16_t bits;
    std::memcpy(&bits, &block->d, 2);
    const float d = Half(bits);
    for (std::size_t k = 0; k < kTileK; ++k)
      acc[k] =
          _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[k]), _mm256_set1_ps(d * xs[k].dk[b]), acc[k]);
  }
  for (std::size_t k = 0; k < kTileK; ++k) out[k * stride] = HorizontalSum(acc[k]);
}

void MatmulQ4_K(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulSuperBlocks<RowTileK<BlockQ4_K>, DotQ4_K>(rows, row_bytes, row_count, xs, count, out,
                                                  stride);
}
void MatmulQ5_K(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulSuperBlocks<RowTileK<BlockQ5_K>, DotQ5_K>(rows, row_bytes, row_count, xs, count, out,
                                                  stride);
}
void MatmulQ6_K(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                const QuantizedActivations* xs, std::size_t count, float* out, std::size_t stride) {
  MatmulSuperBlocks<RowTileQ6K, DotQ6_K>(rows, row_bytes, row_count, xs, count, out, stride);
}

// The other block types (Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS, Q2_K, Q3_K), decoded in registers
// (shifts, masks, one table shuffle for the IQ4 grid) into the integer form of block_decoders.hpp
// — value = scale · q + offset per 16 values — and multiplied as a decoded row is: the same
// integer sums as the scalar decoders give, without a pass through memory. Each type reads its
// block's scales once (Prepare) and gives its runs of 32 values one at a time (Run).
// The 32 bytes of the 16 packed bytes at qs: low nibbles in bytes 0-15, high ones in 16-31.
HWY_INLINE __m256i UnpackNibbles(const std::uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed),
                          _mm256_set1_epi8(0x0F));
}

// 0x10 in byte i where bit i of `bits` is set (Q5_0/Q5_1's fifth bits), else 0.
HWY_INLINE __m256i FifthBits(std::uint32_t bits) {
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                           2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i select = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select),
                          _mm256_set1_epi8(0x10));
}

HWY_INLINE __m256i IQ4Grid(__m256i nibbles) {
  const __m256i grid =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values)));
  return _mm256_shuffle_epi8(grid, nibbles);
}

// Each type's block layout and scales (decoded_block_scales.hpp) and how a run's q unpack here.
template <TensorType kType>
struct DecodedType;

template <>
struct DecodedType<TensorType::q4_1> : DecodedBlock<TensorType::q4_1> {
  static HWY_INLINE __m256i Run(const Block& x, std::size_t) { return UnpackNibbles(x.qs); }
};

template <typename Block>
HWY_INLINE __m256i Q5Values(const Block& x) {
  std::uint32_t qh;
  std::memcpy(&qh, x.qh, 4);
  return _mm256_or_si256(UnpackNibbles(x.qs), FifthBits(qh));
}

template <>
struct DecodedType<TensorType::q5_0> : DecodedBlock<TensorType::q5_0> {
  static HWY_INLINE __m256i Run(const Block& x, std::size_t) {
    return _mm256_sub_epi8(Q5Values(x), _mm256_set1_epi8(16));
  }
};

template <>
struct DecodedType<TensorType::q5_1> : DecodedBlock<TensorType::q5_1> {
  static HWY_INLINE __m256i Run(const Block& x, std::size_t) { return Q5Values(x); }
};

template <>
struct DecodedType<TensorType::iq4_nl> : DecodedBlock<TensorType::iq4_nl> {
  static HWY_INLINE __m256i Run(const Block& x, std::size_t) {
    return IQ4Grid(UnpackNibbles(x.qs));
  }
};

template <>
struct DecodedType<TensorType::iq4_xs> : DecodedBlock<TensorType::iq4_xs> {
  static HWY_INLINE __m256i Run(const Block& x, std::size_t run) {
    return IQ4Grid(UnpackNibbles(x.qs + 16 * run));
  }
};

// Q2_K and Q3_K: run j of a super-block is bits 2·(j % 4) and the next of its half's 32 bytes.
HWY_INLINE __m256i TwoBits(const std::uint8_t* qs, std::size_t run) {
  const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * (run / 4)));
  return _mm256_and_si256(
      _mm256_srl_epi16(bytes, _mm_cvtsi32_si128(static_cast<int>(2 * (run % 4)))),
      _mm256_set1_epi8(3));
}

template <>
struct DecodedType<TensorType::q2_k> : DecodedBlock<TensorType::q2_k> {
  static HWY_INLINE __m256i Run(const Block& x, std::size_t run) { return TwoBits(x.qs, run); }
};

template <>
struct DecodedType<TensorType::q3_k> : DecodedBlock<TensorType::q3_k> {
  // The high bit (bit j of hmask's bytes): set means q as it is, clear means q - 4.
  static HWY_INLINE __m256i Run(const Block& x, std::size_t run) {
    const __m256i mask = _mm256_set1_epi8(static_cast<char>(1u << run));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.hmask));
    const __m256i minus = _mm256_andnot_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, mask), mask),
                                              _mm256_set1_epi8(4));
    return _mm256_sub_epi8(TwoBits(x.qs, run), minus);
  }
};

// A block's scales, its F16 fields converted with F16C.
template <class T>
HWY_INLINE void PrepareScales(const typename T::Block& block, typename T::Scales& s) {
  T::prepare(block, s, [](std::uint16_t bits) { return Half(bits); });
}

// Run k of a row (32 values, k counted over the whole row) against one token's activations,
// added to acc (and its offsets).
template <class T>
HWY_INLINE void AddRun(__m256i q, __m256i magnitude, const float* scale, const float* offset,
                       std::size_t k, const QuantizedActivations& x, __m256& acc, float& offsets) {
  const std::int8_t* xq = (T::kSuper ? x.qk.data() : x.q.data()) + 32 * k;
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
  const __m256i sums = T::kSigned ? DotU8I8(magnitude, _mm256_sign_epi8(a, q)) : DotU8I8(q, a);
  const float d = T::kSuper ? x.dk[k / 8] : x.d[k];
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums),
                        _mm256_set_m128(_mm_set1_ps(scale[1] * d), _mm_set1_ps(scale[0] * d)), acc);
  if constexpr (T::kOffsets) {
    const float xsum0 = T::kSuper ? x.ksums16[2 * k] : static_cast<float>(x.sums16[2 * k]);
    const float xsum1 = T::kSuper ? x.ksums16[2 * k + 1] : static_cast<float>(x.sums16[2 * k + 1]);
    offsets += d * (offset[0] * xsum0 + offset[1] * xsum1);
  }
}

template <TensorType kType>
float DotDecoded(const std::byte* row, const QuantizedActivations& x) {
  using T = DecodedType<kType>;
  using Block = typename T::Block;
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (std::size_t u = 0; u < x.n / (32 * T::kRuns); ++u) {
    Prefetch(row + u * sizeof(Block) + kPrefetchAhead, sizeof(Block));
    const auto& block = *reinterpret_cast<const Block*>(row + u * sizeof(Block));
    typename T::Scales s;
    PrepareScales<T>(block, s);
    for (std::size_t j = 0; j < T::kRuns; ++j) {
      const __m256i q = T::Run(block, j);
      AddRun<T>(q, _mm256_sign_epi8(q, q), s.scale + 2 * j, s.offset + 2 * j, u * T::kRuns + j, x,
                acc, offsets);
    }
  }
  return HorizontalSum(acc) + offsets;
}

// One row against kTileK tokens, each run decoded once for all of them.
template <TensorType kType>
HWY_INLINE void RowTileDecoded(const std::byte* row, const QuantizedActivations* xs, float* out,
                               std::size_t stride) {
  using T = DecodedType<kType>;
  using Block = typename T::Block;
  __m256 acc[kTileK];
  float offsets[kTileK] = {};
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (std::size_t u = 0; u < xs[0].n / (32 * T::kRuns); ++u) {
    const auto& block = *reinterpret_cast<const Block*>(row + u * sizeof(Block));
    typename T::Scales s;
    PrepareScales<T>(block, s);
    for (std::size_t j = 0; j < T::kRuns; ++j) {
      const __m256i q = T::Run(block, j);
      const __m256i magnitude = _mm256_sign_epi8(q, q);
      for (std::size_t t = 0; t < kTileK; ++t)
        AddRun<T>(q, magnitude, s.scale + 2 * j, s.offset + 2 * j, u * T::kRuns + j, xs[t], acc[t],
                  offsets[t]);
    }
  }
  for (std::size_t t = 0; t < kTileK; ++t) out[t * stride] = HorizontalSum(acc[t]) + offsets[t];
}

template <TensorType kType>
void MatmulDecoded(const std::byte* rows, std::size_t row_bytes, std::size_t row_count,
                   const QuantizedActivations* xs, std::size_t count, float* out,
                   std::size_t stride) {
  constexpr std::size_t kRowBlock = 16;
  const std::size_t tiles = count / kTileK;
  for (std::size_t r0 = 0; r0 < row_count; r0 += kRowBlock) {
    const std::size_t r1 = std::min(row_count, r0 + kRowBlock);
    for (std::size_t tile = 0; tile < tiles; ++tile) {
      for (std::size_t r = r0; r < r1; ++r)
        RowTileDecoded<kType>(rows + r * row_bytes, xs + tile * kTileK,
                              out + tile * kTileK * stride + r, stride);
    }
    for (std::size_t t = tiles * kTileK; t < count; ++t) {
      for (std::size_t r = r0; r < r1; ++r)
        out[t * stride + r] = DotDecoded<kType>(rows + r * row_bytes, xs[t]);
    }
  }
}

#if HWY_TARGET == HWY_AVX3_DL
HWY_POP_ATTRIBUTES
HWY_PUSH_ATTRIBUTES(HWY_TARGET_STR)  // Highway's again, for HWY_AFTER_NAMESPACE
#endif

#endif  // HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL

}  // namespace llorch::engine::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LLORCH_ENGINE_INT8_KERNELS_X86_INL_
