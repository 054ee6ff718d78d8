#include "engine/tensor_type.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "engine/block_decoders.hpp"

namespace llorch::engine {
namespace {

constexpr TypeTraits kF32{"f32", 1, 4};
constexpr TypeTraits kF16{"f16", 1, 2};
constexpr TypeTraits kQ4_0{"q4_0", 32, sizeof(BlockQ4_0)};
constexpr TypeTraits kQ8_0{"q8_0", 32, sizeof(BlockQ8_0)};
constexpr TypeTraits kQ4_K{"q4_k", kSuperBlock, sizeof(BlockQ4_K)};
constexpr TypeTraits kQ6_K{"q6_k", kSuperBlock, sizeof(BlockQ6_K)};
constexpr TypeTraits kBF16{"bf16", 1, 2};
constexpr TypeTraits kQ4_1{"q4_1", 32, sizeof(BlockQ4_1)};
constexpr TypeTraits kQ5_0{"q5_0", 32, sizeof(BlockQ5_0)};
constexpr TypeTraits kQ5_1{"q5_1", 32, sizeof(BlockQ5_1)};
constexpr TypeTraits kQ2_K{"q2_k", kSuperBlock, sizeof(BlockQ2_K)};
constexpr TypeTraits kQ3_K{"q3_k", kSuperBlock, sizeof(BlockQ3_K)};
constexpr TypeTraits kQ5_K{"q5_k", kSuperBlock, sizeof(BlockQ5_K)};
constexpr TypeTraits kIQ4_NL{"iq4_nl", 32, sizeof(BlockIQ4_NL)};
constexpr TypeTraits kIQ4_XS{"iq4_xs", kSuperBlock, sizeof(BlockIQ4_XS)};

// ggml's type names by id; ids that were removed are empty.
constexpr std::array<std::string_view, 40> kGgmlNames{
    "f32",     "f16",    "q4_0",    "q4_1",  "",       "",      "q5_0",  "q5_1",
    "q8_0",    "q8_1",   "q2_k",    "q3_k",  "q4_k",   "q5_k",  "q6_k",  "q8_k",
    "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs",
    "i8",      "i16",    "i32",     "i64",   "f64",    "iq1_m", "bf16",  "",
    "",        "",       "tq1_0",   "tq2_0", "",       "",      "",      "mxfp4"};

// All 65536 halves as floats: one load per conversion, exact by construction.
const std::array<float, 65536>& half_table() {
  static const auto table = [] {
    std::array<float, 65536> t{};
    for (std::uint32_t h = 0; h < 65536; ++h) {
      const std::uint32_t sign = (h & 0x8000u) << 16;
      const std::uint32_t exponent = (h >> 10) & 0x1Fu;
      const std::uint32_t mantissa = h & 0x3FFu;
      std::uint32_t bits;
      if (exponent == 0) {
        // zero or subnormal: mantissa * 2^-24
        const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
        bits = std::bit_cast<std::uint32_t>(magnitude) | sign;
      } else if (exponent == 31) {
        bits = sign | 0x7F800000u | (mantissa << 13);  // inf or NaN
      } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
      }
      t[h] = std::bit_cast<float>(bits);
    }
    return t;
  }();
  return table;
}

}  // namespace

std::optional<TensorType> tensor_type_from_id(std::uint32_t id) noexcept {
  switch (id) {
    case 0:
      return TensorType::f32;
    case 1:
      return TensorType::f16;
    case 2:
      return TensorType::q4_0;
    case 3:
      return TensorType::q4_1;
    case 6:
      return TensorType::q5_0;
    case 7:
      return TensorType::q5_1;
    case 8:
      return TensorType::q8_0;
    case 10:
      return TensorType::q2_k;
    case 11:
      return TensorType::q3_k;
    case 12:
      return TensorType::q4_k;
    case 13:
      return TensorType::q5_k;
    case 14:
      return TensorType::q6_k;
    case 20:
      return TensorType::iq4_nl;
    case 23:
      return TensorType::iq4_xs;
    case 30:
      return TensorType::bf16;
    default:
      return std::nullopt;
  }
}

std::string_view ggml_type_name(std::uint32_t id) noexcept {
  if (id < kGgmlNames.size() && !kGgmlNames[id].empty()) return kGgmlNames[id];
  return "unknown";
}

const TypeTraits& traits(TensorType type) noexcept {
  switch (type) {
    case TensorType::f16:
      return kF16;
    case TensorType::q4_0:
    case TensorType::q4_0_planar:  // the same data, so the same name for people
      return kQ4_0;
    case TensorType::q8_0:
      return kQ8_0;
    case TensorType::q4_k:
      return kQ4_K;
    case TensorType::q6_k:
      return kQ6_K;
    case TensorType::bf16:
      return kBF16;
    case TensorType::q4_1:
      return kQ4_1;
    case TensorType::q5_0:
      return kQ5_0;
    case TensorType::q5_1:
      return kQ5_1;
    case TensorType::q2_k:
      return kQ2_K;
    case TensorType::q3_k:
      return kQ3_K;
    case TensorType::q5_k:
      return kQ5_K;
    case TensorType::iq4_nl:
      return kIQ4_NL;
    case TensorType::iq4_xs:
      return kIQ4_XS;
    case TensorType::f32:
      break;
  }
  return kF32;
}

void unpack_q4_k_scales(const std::uint8_t packed[12], std::uint8_t scale[8],
                        std::uint8_t min[8]) noexcept {
  // Sub-blocks 0-3 keep their 6 bits in the low bits of bytes 0-3 (scales) and 4-7 (mins);
  // sub-blocks 4-7 have their low 4 bits in bytes 8-11 and their top 2 bits in the top bits of
  // bytes 0-3 and 4-7.
  for (int j = 0; j < 4; ++j) {
    scale[j] = packed[j] & 63;
    min[j] = packed[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    scale[j] = static_cast<std::uint8_t>((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4));
    min[j] = static_cast<std::uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

float f16_to_f32(std::uint16_t half) noexcept {
  return half_table()[half];
}

std::uint16_t f32_to_f16(float value) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {  // inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // overflow: inf
  if (abs < 0x38800000u) {
    // subnormal half (or zero): round abs * 2^24 to nearest even integer
    const float magnitude = std::bit_cast<float>(abs) * 16777216.0f;
    const float rounded = std::nearbyint(magnitude);  // default rounding mode: ties to even
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(rounded));
  }
  // normal: rebias exponent, round mantissa to 10 bits, ties to even
  std::uint32_t half = ((abs >> 13) - (112u << 10));
  const std::uint32_t rest = abs & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

}  // namespace llorch::engine
