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
#include <cstring>
#include <type_traits>

#include "engine/block_decoders.hpp"
#include "engine/decoded_block_scales.hpp"
#include "engine/simd_kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace llorch::engine::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)

// Every other target (SSE4, NEON, SVE, WASM, the scalar baseline): every quantized type has a
// kernel of its own (the seven other block types decoded in registers, below; the one-lane
// baseline takes those through simd_kernels.cpp's plain C++ fallback). Everywhere int8 is
// widened to int16 and multiplied into int32 pair sums (pmaddwd on SSE4, smlal on NEON).

// The direct kernels: weights widened from their bytes to int16 lanes in registers (nibbles
// and high bits picked out with shifts and masks), activations widened beside them, products
// summed into int32 pairs. D16 is an int16 tag of at most 16 lanes (8 on 128-bit vectors), so a
// run of 16 values takes one or two steps; every step is the same code on every width.
using D16 = hn::CappedTag<std::int16_t, 16>;
using D32 = hn::Repartition<std::int32_t, D16>;
using DF = hn::Repartition<float, D16>;
using V16 = hn::Vec<D16>;
using V32 = hn::Vec<D32>;

template <class D>
HWY_INLINE hn::Vec<D> WidenBytes(D d16, const std::uint8_t* p) {
  return hn::PromoteTo(d16, hn::LoadU(hn::Rebind<std::uint8_t, D>(), p));
}
template <class D>
HWY_INLINE hn::Vec<D> WidenSigned(D d16, const std::int8_t* p) {
  return hn::PromoteTo(d16, hn::LoadU(hn::Rebind<std::int8_t, D>(), p));
}

// acc + the products of w and the activations at x, in int32 pair sums (with `odd`).
HWY_INLINE V32 MulAccumulate(D32 d32, V16 w, V16 x, V32 acc, V32& odd) {
  return hn::ReorderWidenMulAccumulate(d32, w, x, acc, odd);
}

HWY_INLINE float BlockScaleF16(const std::byte* p) {
  std::uint16_t bits;
  std::memcpy(&bits, p, 2);
  return f16_to_f32(bits);
}

HWY_INLINE float SumLanes(DF df, hn::Vec<DF> v) {
  return hn::GetLane(hn::SumOfLanes(df, v));
}

float DotQ8(const std::byte* row, const QuantizedActivations& x) {
  const D16 d16;
  const D32 d32;
  const DF df;
  auto acc = hn::Zero(df);
  for (std::size_t b = 0; b < x.n / 32; ++b) {
    const std::byte* block = row + b * sizeof(BlockQ8_0);
    const auto* qs = reinterpret_cast<const std::int8_t*>(block + offsetof(BlockQ8_0, qs));
    const std::int8_t* xq = x.q.data() + 32 * b;
    auto sums = hn::Zero(d32), odd = hn::Zero(d32);
    for (std::size_t i = 0; i < 32; i += hn::Lanes(d16))
      sums = MulAccumulate(d32, WidenSigned(d16, qs + i), WidenSigned(d16, xq + i), sums, odd);
    const float scale = BlockScaleF16(block + offsetof(BlockQ8_0, d)) * x.d[b];
    acc = hn::MulAdd(hn::ConvertTo(df, hn::Add(sums, odd)), hn::Set(df, scale), acc);
  }
  return SumLanes(df, acc);
}

// One Q4_0 block (16 bytes of nibbles: values 0-15 low, 16-31 high, each + 8) against
// activation block b: Σ(q - 8)x = Σqx - 8Σx, the second sum from the activations' 16-sums.
HWY_INLINE float Q4_0Block(const std::uint8_t* qs, float scale, const QuantizedActivations& x,
                           std::size_t b) {
  const D16 d16;
  const D32 d32;
  const std::int8_t* xq = x.q.data() + 32 * b;
  const auto low4 = hn::Set(d16, 0x0F);
  auto sums = hn::Zero(d32), odd = hn::Zero(d32);
  for (std::size_t i = 0; i < 16; i += hn::Lanes(d16)) {
    const V16 packed = WidenBytes(d16, qs + i);
    sums = MulAccumulate(d32, hn::And(packed, low4), WidenSigned(d16, xq + i), sums, odd);
    sums = MulAccumulate(d32, hn::ShiftRight<4>(packed), WidenSigned(d16, xq + 16 + i), sums, odd);
  }
  const std::int32_t zero_point = 8 * (x.sums16[2 * b] + x.sums16[2 * b + 1]);
  const DF df;
  const float products = SumLanes(df, hn::ConvertTo(df, hn::Add(sums, odd)));
  return scale * x.d[b] * (products - static_cast<float>(zero_point));
}

float DotQ4_0(const std::byte* row, const QuantizedActivations& x) {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / 32; ++b) {
    const std::byte* block = row + b * sizeof(BlockQ4_0);
    sum += Q4_0Block(reinterpret_cast<const std::uint8_t*>(block + offsetof(BlockQ4_0, qs)),
                     BlockScaleF16(block + offsetof(BlockQ4_0, d)), x, b);
  }
  return sum;
}

float DotQ4_0Planar(const std::byte* row, const QuantizedActivations& x) {
  const std::size_t blocks = x.n / 32;
  float sum = 0.0f;
  for (std::size_t b = 0; b < blocks; ++b) {
    sum += Q4_0Block(reinterpret_cast<const std::uint8_t*>(row + q4_0_planar_quants(b)),
                     BlockScaleF16(row + q4_0_planar_scale(blocks, b)), x, b);
  }
  return sum;
}

// Q4_K and Q5_K: per super-block, each sub-block's integer sums weighted by its 6-bit scale in
// int32, the minimums from the activations' 16-sums, two float multiply-adds.
template <typename Block>
float DotK(const std::byte* row, const QuantizedActivations& x) {
  constexpr bool kFive = std::is_same_v<Block, BlockQ5_K>;
  const D16 d16;
  const D32 d32;
  const DF df;
  const auto low4 = hn::Set(d16, 0x0F);
  const auto one = hn::Set(d16, 1);
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    const auto* block = reinterpret_cast<const Block*>(row + b * sizeof(Block));
    std::uint8_t sc[8];
    std::uint8_t mn[8];
    unpack_q4_k_scales(block->scales, sc, mn);
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
    auto scaled = hn::Zero(d32);
    for (int chunk = 0; chunk < 4; ++chunk) {
      auto low = hn::Zero(d32), low_odd = hn::Zero(d32);
      auto high = hn::Zero(d32), high_odd = hn::Zero(d32);
      for (std::size_t i = 0; i < 32; i += hn::Lanes(d16)) {
        const V16 packed = WidenBytes(d16, block->qs + 32 * chunk + i);
        V16 wl = hn::And(packed, low4);
        V16 wh = hn::ShiftRight<4>(packed);
        if constexpr (kFive) {
          const V16 qh = WidenBytes(d16, block->qh + i);
          wl = hn::Or(wl, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(qh, 2 * chunk), one)));
          wh = hn::Or(wh, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(qh, 2 * chunk + 1), one)));
        }
        low = MulAccumulate(d32, wl, WidenSigned(d16, xq + 64 * chunk + i), low, low_odd);
        high = MulAccumulate(d32, wh, WidenSigned(d16, xq + 64 * chunk + 32 + i), high, high_odd);
      }
      scaled = hn::Add(scaled, hn::Mul(hn::Add(low, low_odd), hn::Set(d32, sc[2 * chunk])));
      scaled = hn::Add(scaled, hn::Mul(hn::Add(high, high_odd), hn::Set(d32, sc[2 * chunk + 1])));
    }
    std::int32_t mins = 0;
    for (int j = 0; j < 8; ++j)
      mins += mn[j] * (x.ksums16[16 * b + 2 * j] + x.ksums16[16 * b + 2 * j + 1]);
    const float d = BlockScaleF16(reinterpret_cast<const std::byte*>(&block->d));
    const float dmin = BlockScaleF16(reinterpret_cast<const std::byte*>(&block->dmin));
    sum +=
        x.dk[b] * (d * SumLanes(df, hn::ConvertTo(df, scaled)) - dmin * static_cast<float>(mins));
  }
  return sum;
}

float DotQ4_K(const std::byte* row, const QuantizedActivations& x) {
  return DotK<BlockQ4_K>(row, x);
}
float DotQ5_K(const std::byte* row, const QuantizedActivations& x) {
  return DotK<BlockQ5_K>(row, x);
}

// Q6_K: unsigned 6-bit q (value + 32) from four nibbles and two-bit pairs, each 16 values'
// scale applied in int32, the zero point (32) off once per super-block.
float DotQ6_K(const std::byte* row, const QuantizedActivations& x) {
  const D16 d16;
  const D32 d32;
  const DF df;
  const auto low4 = hn::Set(d16, 0x0F);
  const auto two = hn::Set(d16, 3);
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    const auto* block = reinterpret_cast<const BlockQ6_K*>(row + b * sizeof(BlockQ6_K));
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
    auto scaled = hn::Zero(d32);
    for (int half = 0; half < 2; ++half) {
      const std::uint8_t* ql = block->ql + 64 * half;
      const std::uint8_t* qh = block->qh + 32 * half;
      const std::int8_t* scales = block->scales + 8 * half;
      const std::int8_t* xh = xq + 128 * half;
      for (std::size_t i = 0; i < 32; i += hn::Lanes(d16)) {
        const V16 a = WidenBytes(d16, ql + i);
        const V16 c = WidenBytes(d16, ql + 32 + i);
        const V16 h = WidenBytes(d16, qh + i);
        const V16 q[4] = {
            hn::Or(hn::And(a, low4), hn::ShiftLeft<4>(hn::And(h, two))),
            hn::Or(hn::And(c, low4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(h), two))),
            hn::Or(hn::ShiftRight<4>(a), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(h), two))),
            hn::Or(hn::ShiftRight<4>(c), hn::ShiftLeft<4>(hn::ShiftRight<6>(h))),
        };
        const std::size_t group = i / 16;  // 0 or 1 within each run of 32
        for (int run = 0; run < 4; ++run) {
          auto p = hn::Zero(d32), odd = hn::Zero(d32);
          p = MulAccumulate(d32, q[run], WidenSigned(d16, xh + 32 * run + i), p, odd);
          scaled = hn::Add(scaled, hn::Mul(hn::Add(p, odd), hn::Set(d32, scales[2 * run + group])));
        }
      }
    }
    std::int32_t zero_point = 0;
    for (int g = 0; g < 16; ++g) zero_point += block->scales[g] * x.ksums16[16 * b + g];
    const float d = BlockScaleF16(reinterpret_cast<const std::byte*>(&block->d));
    sum += d * x.dk[b] *
           (SumLanes(df, hn::ConvertTo(df, scaled)) - 32.0f * static_cast<float>(zero_point));
  }
  return sum;
}

#if HWY_TARGET != HWY_SCALAR
// The other block types (Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS, Q2_K, Q3_K), decoded in registers as
// on x86 (their layouts and scales shared through decoded_block_scales.hpp): value = scale · q +
// offset per 16 values, q widened straight to int16 lanes. At most 8 lanes a step, so that one byte
// of Q5's fifth bits and half of a 16-byte IQ4 lookup serve a step. (The one-lane baseline keeps
// the plain C++ decoders.)
using D16s = hn::CappedTag<std::int16_t, 8>;
using D32s = hn::Repartition<std::int32_t, D16s>;
using DFs = hn::Repartition<float, D16s>;
using V16s = hn::Vec<D16s>;

// Values [i, i + lanes) of a run of 32 whose 16 packed bytes are at qs: low nibbles are values
// 0-15, high nibbles 16-31.
HWY_INLINE V16s Nibbles16(D16s d, const std::uint8_t* qs, std::size_t i) {
  const V16s packed = WidenBytes(d, qs + i % 16);
  return i < 16 ? hn::And(packed, hn::Set(d, 0x0F)) : hn::ShiftRight<4>(packed);
}

// 16 where bit i + lane of the 32 bits at qh is set (Q5's fifth bits), else 0.
alignas(16) constexpr std::int16_t kBitOf[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                                 1, 2, 4, 8, 16, 32, 64, 128};
HWY_INLINE V16s FifthBits16(D16s d, const std::uint8_t* qh, std::size_t i) {
  const V16s byte = hn::Set(d, static_cast<std::int16_t>(qh[i / 8]));
  return hn::IfThenElseZero(hn::TestBit(byte, hn::LoadU(d, kBitOf + i % 8)),
                            hn::Set(d, std::int16_t{16}));
}

// The IQ4 grid's values for the nibbles of values [i, i + lanes) (packed as Nibbles16 reads).
HWY_INLINE V16s Grid16(D16s d, const std::uint8_t* qs, std::size_t i) {
  const hn::Rebind<std::uint8_t, D16s> du8;
  const hn::Full128<std::uint8_t> dtable;
  const auto packed = hn::LoadU(du8, qs + i % 16);
  const auto index = i < 16 ? hn::And(packed, hn::Set(du8, 0x0F)) : hn::ShiftRight<4>(packed);
  const auto grid = hn::LoadU(dtable, reinterpret_cast<const std::uint8_t*>(kIQ4Values));
  const auto values = hn::TableLookupBytes(grid, index);
  return hn::PromoteTo(d, hn::BitCast(hn::Rebind<std::int8_t, D16s>(), values));
}

// Each type's block layout and scales (decoded_block_scales.hpp) and how a run's q widen here.
template <TensorType kType>
struct DecodedType;

template <>
struct DecodedType<TensorType::q4_1> : DecodedBlock<TensorType::q4_1> {
  static HWY_INLINE V16s Values(D16s d, const Block& x, std::size_t, std::size_t i) {
    return Nibbles16(d, x.qs, i);
  }
};

template <>
struct DecodedType<TensorType::q5_0> : DecodedBlock<TensorType::q5_0> {
  static HWY_INLINE V16s Values(D16s d, const Block& x, std::size_t, std::size_t i) {
    return hn::Sub(hn::Or(Nibbles16(d, x.qs, i), FifthBits16(d, x.qh, i)),
                   hn::Set(d, std::int16_t{16}));
  }
};

template <>
struct DecodedType<TensorType::q5_1> : DecodedBlock<TensorType::q5_1> {
  static HWY_INLINE V16s Values(D16s d, const Block& x, std::size_t, std::size_t i) {
    return hn::Or(Nibbles16(d, x.qs, i), FifthBits16(d, x.qh, i));
  }
};

template <>
struct DecodedType<TensorType::iq4_nl> : DecodedBlock<TensorType::iq4_nl> {
  static HWY_INLINE V16s Values(D16s d, const Block& x, std::size_t, std::size_t i) {
    return Grid16(d, x.qs, i);
  }
};

template <>
struct DecodedType<TensorType::iq4_xs> : DecodedBlock<TensorType::iq4_xs> {
  static HWY_INLINE V16s Values(D16s d, const Block& x, std::size_t run, std::size_t i) {
    return Grid16(d, x.qs + 16 * run, i);
  }
};

// Q2_K and Q3_K: run j of a super-block is bits 2·(j % 4) and the next of its half's 32 bytes.
HWY_INLINE V16s TwoBits16(D16s d, const std::uint8_t* qs, std::size_t run, std::size_t i) {
  const V16s bytes = WidenBytes(d, qs + 32 * (run / 4) + i);
  return hn::And(hn::ShiftRightSame(bytes, static_cast<int>(2 * (run % 4))),
                 hn::Set(d, std::int16_t{3}));
}

template <>
struct DecodedType<TensorType::q2_k> : DecodedBlock<TensorType::q2_k> {
  static HWY_INLINE V16s Values(D16s d, const Block& x, std::size_t run, std::size_t i) {
    return TwoBits16(d, x.qs, run, i);
  }
};

template <>
struct DecodedType<TensorType::q3_k> : DecodedBlock<TensorType::q3_k> {
  // The high bit (bit `run` of hmask's bytes): set means q as it is, clear means q - 4.
  static HWY_INLINE V16s Values(D16s d, const Block& x, std::size_t run, std::size_t i) {
    const V16s high = WidenBytes(d, x.hmask + i);
    const V16s minus =
        hn::IfThenZeroElse(hn::TestBit(high, hn::Set(d, static_cast<std::int16_t>(1 << run))),
                           hn::Set(d, std::int16_t{4}));
    return hn::Sub(TwoBits16(d, x.qs, run, i), minus);
  }
};

template <TensorType kType>
float DotDecoded(const std::byte* row, const QuantizedActivations& x) {
  using T = DecodedType<kType>;
  using Block = typename T::Block;
  const D16s d16;
  const D32s d32;
  const DFs df;
  auto acc = hn::Zero(df);
  float offsets = 0.0f;
  for (std::size_t u = 0; u < x.n / (32 * T::kRuns); ++u) {
    const auto& block = *reinterpret_cast<const Block*>(row + u * sizeof(Block));
    typename T::Scales s;
    T::prepare(block, s, f16_to_f32);
    for (std::size_t j = 0; j < T::kRuns; ++j) {
      const std::size_t k = u * T::kRuns + j;  // the run's place in the row
      const std::int8_t* xq = (T::kSuper ? x.qk.data() : x.q.data()) + 32 * k;
      const float d = T::kSuper ? x.dk[k / 8] : x.d[k];
      for (std::size_t g = 0; g < 2; ++g) {
        auto sums = hn::Zero(d32), odd = hn::Zero(d32);
        for (std::size_t i = 16 * g; i < 16 * g + 16; i += hn::Lanes(d16)) {
          sums = hn::ReorderWidenMulAccumulate(d32, T::Values(d16, block, j, i),
                                               WidenSigned(d16, xq + i), sums, odd);
        }
        acc = hn::MulAdd(hn::ConvertTo(df, hn::Add(sums, odd)), hn::Set(df, s.scale[2 * j + g] * d),
                         acc);
        if constexpr (T::kOffsets) {
          const float xsum =
              T::kSuper ? x.ksums16[2 * k + g] : static_cast<float>(x.sums16[2 * k + g]);
          offsets += d * s.offset[2 * j + g] * xsum;
        }
      }
    }
  }
  return SumLanes(df, acc) + offsets;
}

#else
// The one-lane baseline: the other block types through their plain C++ decoders (declared only
// for WithDecodedType's callers, which never reach it here).
template <TensorType kType>
float DotDecoded(const std::byte*, const QuantizedActivations&);
#endif  // HWY_TARGET != HWY_SCALAR

#endif  // !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)

}  // namespace llorch::engine::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LLORCH_ENGINE_INT8_KERNELS_PORTABLE_INL_
