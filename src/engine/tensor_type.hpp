// The ggml tensor types llorch knows, their GGUF ids and block layouts, and half-float conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llorch::engine {

// Values are the GGUF/ggml type ids, except q4_0_planar: llorch's own layout of Q4_0 data, never
// read from a file (see BlockQ4_0 and repack_q4_0_planar).
enum class TensorType : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  iq4_nl = 20,
  iq4_xs = 23,
  bf16 = 30,
  q4_0_planar = 0x10002,
};

struct TypeTraits {
  std::string_view name;
  std::size_t block_elements;  // values per block
  std::size_t block_bytes;     // bytes per block
};

// nullopt for ids llorch cannot compute with (the caller names the id in its error).
std::optional<TensorType> tensor_type_from_id(std::uint32_t id) noexcept;
// Names ggml gives every type id, known or not ("q4_k", "bf16", …), for messages.
std::string_view ggml_type_name(std::uint32_t id) noexcept;
const TypeTraits& traits(TensorType type) noexcept;

// Q8_0: 32 values as int8 with one f16 scale (34 bytes).
struct BlockQ8_0 {
  std::uint16_t d;
  std::int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_0: 32 values as 4-bit (value = nibble - 8) with one f16 scale (18 bytes). Byte j holds
// value j in its low nibble and value j+16 in its high nibble.
struct BlockQ4_0 {
  std::uint16_t d;
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_0 planar: the same values and bytes per row as Q4_0, rearranged for the SIMD kernels. A row of
// B blocks holds the 16 quant bytes of every block first (block b at 16·b, bytes as in BlockQ4_0),
// then the B f16 scales (block b's at 16·B + 2·b). One 32-byte load then brings two blocks' quants,
// and one 16-byte load eight scales, which GGUF's interleaved blocks of 18 bytes do not allow.
// Where block b's 16 quant bytes and its scale lie in such a row of `blocks` blocks:
constexpr std::size_t q4_0_planar_quants(std::size_t b) noexcept {
  return 16 * b;
}
constexpr std::size_t q4_0_planar_scale(std::size_t blocks, std::size_t b) noexcept {
  return 16 * blocks + 2 * b;
}

// K-quants: super-blocks of 256 values (QK_K), as ggml defines them.
inline constexpr std::size_t kSuperBlock = 256;

// Q4_K: 8 sub-blocks of 32 values; value = d * scale_j * q - dmin * min_j with 4-bit q, and 6-bit
// scale_j and min_j packed in `scales` (see unpack_q4_k_scales). In each 64 values, byte l of
// the 32 holds value l in its low nibble and value 32+l in its high nibble (144 bytes).
struct BlockQ4_K {
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[12];
  std::uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q6_K: 16 sub-blocks of 16 values; value = d * scales[j] * (q - 32) with 6-bit q: the low 4 bits
// in ql, the high 2 in qh (the layout of dequantize_q6_k) (210 bytes).
struct BlockQ6_K {
  std::uint8_t ql[128];
  std::uint8_t qh[64];
  std::int8_t scales[16];
  std::uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// The 8 scales and 8 mins of a Q4_K block, 6 bits each.
void unpack_q4_k_scales(const std::uint8_t packed[12], std::uint8_t scale[8],
                        std::uint8_t min[8]) noexcept;

float f16_to_f32(std::uint16_t half) noexcept;
std::uint16_t f32_to_f16(float value) noexcept;  // round to nearest even

}  // namespace llorch::engine
