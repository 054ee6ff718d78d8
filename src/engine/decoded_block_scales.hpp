// The block types the SIMD kernels decode in registers (Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS, Q2_K,
// Q3_K), as both kernel families read them (int8_kernels_x86-inl.hpp and
// int8_kernels_portable-inl.hpp): a block's runs of 32 values, whether its q are signed, whether
// it has offsets, whether its activations are quantized per 256 values, and its scales and
// offsets per 16 values (value = scale · q + offset). The kernels add only how each run's q are
// unpacked. The plain C++ decoders of block_decoders.cpp stay apart: they are the reference.
// Everything here is inlined into the per-target kernels (HWY_INLINE), so that the F16
// conversion each kernel passes in is compiled with that target's instructions.
#pragma once

#include <hwy/base.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/block_decoders.hpp"
#include "engine/tensor_type.hpp"

namespace llorch::engine {

template <std::size_t kRunsPerBlock>
struct UnitScales {  // per 16 values of a block (kRunsPerBlock runs of 32)
  float scale[2 * kRunsPerBlock];
  float offset[2 * kRunsPerBlock];  // left unset for types without offsets (kOffsets false)
};

template <TensorType kType>
struct DecodedBlock;

// An F16 field read in place; `half` converts its bits (each target has its fastest way).
template <class Half>
HWY_INLINE float field_value(const std::uint16_t& field, Half half) {
  std::uint16_t bits;
  std::memcpy(&bits, &field, 2);
  return half(bits);
}

// The 32-value blocks: one run each, one scale (and offset) for both halves.
template <typename BlockT, bool kSignedQ, bool kOffsetsQ>
struct OneRunBlock {
  using Block = BlockT;
  using Scales = UnitScales<1>;
  static constexpr std::size_t kRuns = 1;
  static constexpr bool kSigned = kSignedQ, kOffsets = kOffsetsQ, kSuper = false;
  template <class Half>
  static HWY_INLINE void prepare(const Block& x, Scales& s, Half half) {
    const float d = field_value(x.d, half);
    float m = 0.0f;
    if constexpr (kOffsets) m = field_value(x.m, half);
    s = {{d, d}, {m, m}};
  }
};

template <>
struct DecodedBlock<TensorType::q4_1> : OneRunBlock<BlockQ4_1, false, true> {};
template <>
struct DecodedBlock<TensorType::q5_0> : OneRunBlock<BlockQ5_0, true, false> {};
template <>
struct DecodedBlock<TensorType::q5_1> : OneRunBlock<BlockQ5_1, false, true> {};
template <>
struct DecodedBlock<TensorType::iq4_nl> : OneRunBlock<BlockIQ4_NL, true, false> {};

// The super-blocks: eight runs of 32 values.
template <typename BlockT, bool kSignedQ, bool kOffsetsQ>
struct SuperBlock {
  using Block = BlockT;
  using Scales = UnitScales<8>;
  static constexpr std::size_t kRuns = 8;
  static constexpr bool kSigned = kSignedQ, kOffsets = kOffsetsQ, kSuper = true;
};

template <>
struct DecodedBlock<TensorType::iq4_xs> : SuperBlock<BlockIQ4_XS, true, false> {
  template <class Half>
  static HWY_INLINE void prepare(const Block& x, Scales& s, Half half) {
    const float d = field_value(x.d, half);
    std::uint16_t high;
    std::memcpy(&high, &x.scales_h, 2);
    for (int run = 0; run < 8; ++run) {
      const int ls =
          ((x.scales_l[run / 2] >> (4 * (run % 2))) & 0x0F) | (((high >> (2 * run)) & 3) << 4);
      s.scale[2 * run] = s.scale[2 * run + 1] = d * static_cast<float>(ls - 32);
    }
  }
};

template <>
struct DecodedBlock<TensorType::q2_k> : SuperBlock<BlockQ2_K, false, true> {
  template <class Half>
  static HWY_INLINE void prepare(const Block& x, Scales& s, Half half) {
    const float d = field_value(x.d, half), dmin = field_value(x.dmin, half);
    for (int g = 0; g < 16; ++g) {
      s.scale[g] = d * static_cast<float>(x.scales[g] & 0x0F);
      s.offset[g] = -dmin * static_cast<float>(x.scales[g] >> 4);
    }
  }
};

template <>
struct DecodedBlock<TensorType::q3_k> : SuperBlock<BlockQ3_K, true, false> {
  template <class Half>
  static HWY_INLINE void prepare(const Block& x, Scales& s, Half half) {
    const float d = field_value(x.d, half);
    std::int8_t scales[16];
    unpack_q3_k_scales(x.scales, scales);
    for (int g = 0; g < 16; ++g) s.scale[g] = d * static_cast<float>(scales[g] - 32);
  }
};

}  // namespace llorch::engine
