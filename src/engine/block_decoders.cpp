#include "engine/block_decoders.hpp"

#include <bit>
#include <cstring>

namespace llorch::engine {

namespace {

template <typename Block>
Block load(const std::byte* row, std::size_t b) noexcept {
  Block block;
  std::memcpy(&block, row + b * sizeof(Block), sizeof(Block));
  return block;
}

float half(std::uint16_t h) noexcept {
  return f16_to_f32(h);
}

void decode_bf16(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    y[i] = std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
  }
}

// Q4_1, Q5_0, Q5_1 and IQ4_NL share Q4_0's nibble order: byte j holds value j (low) and j + 16.
void decode_q4_1(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b, y += 32) {
    const auto x = load<BlockQ4_1>(row, b);
    const float d = half(x.d), m = half(x.m);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(x.qs[j] & 0x0F) + m;
      y[j + 16] = d * static_cast<float>(x.qs[j] >> 4) + m;
    }
  }
}

template <typename Block>
std::uint32_t high_bits(const Block& x) noexcept {
  std::uint32_t qh;
  std::memcpy(&qh, x.qh, 4);
  return qh;
}

void decode_q5_0(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b, y += 32) {
    const auto x = load<BlockQ5_0>(row, b);
    const float d = half(x.d);
    const std::uint32_t qh = high_bits(x);
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = d * static_cast<float>(((x.qs[j] & 0x0F) | h0) - 16);
      y[j + 16] = d * static_cast<float>(((x.qs[j] >> 4) | h1) - 16);
    }
  }
}

void decode_q5_1(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b, y += 32) {
    const auto x = load<BlockQ5_1>(row, b);
    const float d = half(x.d), m = half(x.m);
    const std::uint32_t qh = high_bits(x);
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      y[j] = d * static_cast<float>((x.qs[j] & 0x0F) | h0) + m;
      y[j + 16] = d * static_cast<float>((x.qs[j] >> 4) | h1) + m;
    }
  }
}

void decode_iq4_nl(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b, y += 32) {
    const auto x = load<BlockIQ4_NL>(row, b);
    const float d = half(x.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIQ4Values[x.qs[j] & 0x0F]);
      y[j + 16] = d * static_cast<float>(kIQ4Values[x.qs[j] >> 4]);
    }
  }
}

// Q2_K: each 128 values take 32 bytes of qs; four 2-bit planes of them, two groups of 16 each.
void decode_q2_k(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockQ2_K>(row, b);
    const float d = half(x.d), dmin = half(x.dmin);
    const std::uint8_t* q = x.qs;
    int is = 0;
    for (int half_block = 0; half_block < 2; ++half_block, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const std::uint8_t sc = x.scales[is++];
          const float dl = d * static_cast<float>(sc & 0x0F);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l)
            *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K's sixteen 6-bit scales: low 4 bits in bytes 0-7 (two a byte), high 2 bits in bytes 8-11.
void unpack_q3_k_scales(const std::uint8_t packed[12], std::int8_t scales[16]) noexcept {
  std::uint32_t aux[4];
  std::memcpy(aux, packed, 12);
  constexpr std::uint32_t kLow2 = 0x03030303, kLow4 = 0x0f0f0f0f;
  const std::uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kLow4) | (((tmp >> 4) & kLow2) << 4);
  aux[3] = ((aux[1] >> 4) & kLow4) | (((tmp >> 6) & kLow2) << 4);
  aux[0] = (aux[0] & kLow4) | (((tmp >> 0) & kLow2) << 4);
  aux[1] = (aux[1] & kLow4) | (((tmp >> 2) & kLow2) << 4);
  std::memcpy(scales, aux, 16);
}

void decode_q3_k(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockQ3_K>(row, b);
    const float d = half(x.d);
    std::int8_t scales[16];
    unpack_q3_k_scales(x.scales, scales);
    const std::uint8_t* q = x.qs;
    std::uint8_t mask = 1;
    int is = 0;
    for (int half_block = 0; half_block < 2; ++half_block, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, mask = static_cast<std::uint8_t>(mask << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d * static_cast<float>(scales[is++] - 32);
          for (int l = 0; l < 16; ++l) {
            const int i = l + 16 * part;
            const int value = ((q[i] >> shift) & 3) - ((x.hmask[i] & mask) != 0 ? 0 : 4);
            *y++ = dl * static_cast<float>(value);
          }
        }
      }
    }
  }
}

void decode_q5_k(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockQ5_K>(row, b);
    const float d = half(x.d), dmin = half(x.dmin);
    std::uint8_t sc[8];
    std::uint8_t mn[8];
    unpack_q4_k_scales(x.scales, sc, mn);
    const std::uint8_t* ql = x.qs;
    for (int chunk = 0; chunk < 4; ++chunk, ql += 32) {
      const std::uint8_t low = static_cast<std::uint8_t>(1u << (2 * chunk));
      const std::uint8_t high = static_cast<std::uint8_t>(2u << (2 * chunk));
      const float d1 = d * sc[2 * chunk], m1 = dmin * mn[2 * chunk];
      const float d2 = d * sc[2 * chunk + 1], m2 = dmin * mn[2 * chunk + 1];
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0x0F) + ((x.qh[l] & low) != 0 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((x.qh[l] & high) != 0 ? 16 : 0)) - m2;
    }
  }
}

void decode_iq4_xs(const std::byte* row, float* y, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockIQ4_XS>(row, b);
    const float d = half(x.d);
    const std::uint8_t* qs = x.qs;
    for (int group = 0; group < 8; ++group, y += 32, qs += 16) {
      const int ls = ((x.scales_l[group / 2] >> (4 * (group % 2))) & 0x0F) |
                     (((x.scales_h >> (2 * group)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIQ4Values[qs[j] & 0x0F]);
        y[j + 16] = dl * static_cast<float>(kIQ4Values[qs[j] >> 4]);
      }
    }
  }
}

// Integer decoders: q as small integers, scale and offset per 16 values.
void groups(IntegerRow& out, std::size_t g, float scale, float offset, std::size_t count = 1) {
  for (std::size_t k = 0; k < count; ++k) {
    out.scale[g + k] = scale;
    out.offset[g + k] = offset;
  }
}

void integer_q4_1(const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b) {
    const auto x = load<BlockQ4_1>(row, b);
    std::int8_t* q = out.q + 32 * b;
    for (int j = 0; j < 16; ++j) {
      q[j] = static_cast<std::int8_t>(x.qs[j] & 0x0F);
      q[j + 16] = static_cast<std::int8_t>(x.qs[j] >> 4);
    }
    groups(out, 2 * b, half(x.d), half(x.m), 2);
  }
}

template <typename Block, bool kHasMin>
void integer_q5(const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b) {
    const auto x = load<Block>(row, b);
    const std::uint32_t qh = high_bits(x);
    std::int8_t* q = out.q + 32 * b;
    const int zero = kHasMin ? 0 : 16;
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      q[j] = static_cast<std::int8_t>(((x.qs[j] & 0x0F) | h0) - zero);
      q[j + 16] = static_cast<std::int8_t>(((x.qs[j] >> 4) | h1) - zero);
    }
    float m = 0.0f;
    if constexpr (kHasMin) m = half(x.m);
    groups(out, 2 * b, half(x.d), m, 2);
  }
}

void integer_iq4_nl(const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b) {
    const auto x = load<BlockIQ4_NL>(row, b);
    std::int8_t* q = out.q + 32 * b;
    for (int j = 0; j < 16; ++j) {
      q[j] = kIQ4Values[x.qs[j] & 0x0F];
      q[j + 16] = kIQ4Values[x.qs[j] >> 4];
    }
    groups(out, 2 * b, half(x.d), 0.0f, 2);
  }
}

void integer_iq4_xs(const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockIQ4_XS>(row, b);
    const float d = half(x.d);
    for (int group = 0; group < 8; ++group) {
      const std::uint8_t* qs = x.qs + 16 * group;
      std::int8_t* q = out.q + kSuperBlock * b + 32 * group;
      for (int j = 0; j < 16; ++j) {
        q[j] = kIQ4Values[qs[j] & 0x0F];
        q[j + 16] = kIQ4Values[qs[j] >> 4];
      }
      const int ls = ((x.scales_l[group / 2] >> (4 * (group % 2))) & 0x0F) |
                     (((x.scales_h >> (2 * group)) & 3) << 4);
      groups(out, 16 * b + 2 * group, d * static_cast<float>(ls - 32), 0.0f, 2);
    }
  }
}

void integer_q2_k(const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockQ2_K>(row, b);
    const float d = half(x.d), dmin = half(x.dmin);
    std::int8_t* y = out.q + kSuperBlock * b;
    const std::uint8_t* q = x.qs;
    std::size_t g = 16 * b;
    for (int half_block = 0; half_block < 2; ++half_block, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++g) {
          const std::uint8_t sc = x.scales[g - 16 * b];
          for (int l = 0; l < 16; ++l)
            *y++ = static_cast<std::int8_t>((q[l + 16 * part] >> shift) & 3);
          groups(out, g, d * static_cast<float>(sc & 0x0F), -dmin * static_cast<float>(sc >> 4));
        }
      }
    }
  }
}

void integer_q3_k(const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockQ3_K>(row, b);
    const float d = half(x.d);
    std::int8_t scales[16];
    unpack_q3_k_scales(x.scales, scales);
    std::int8_t* y = out.q + kSuperBlock * b;
    const std::uint8_t* q = x.qs;
    std::uint8_t mask = 1;
    std::size_t g = 16 * b;
    for (int half_block = 0; half_block < 2; ++half_block, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, mask = static_cast<std::uint8_t>(mask << 1)) {
        for (int part = 0; part < 2; ++part, ++g) {
          for (int l = 0; l < 16; ++l) {
            const int i = l + 16 * part;
            *y++ = static_cast<std::int8_t>(((q[i] >> shift) & 3) -
                                            ((x.hmask[i] & mask) != 0 ? 0 : 4));
          }
          groups(out, g, d * static_cast<float>(scales[g - 16 * b] - 32), 0.0f);
        }
      }
    }
  }
}

void integer_q5_k(const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = load<BlockQ5_K>(row, b);
    const float d = half(x.d), dmin = half(x.dmin);
    std::uint8_t sc[8];
    std::uint8_t mn[8];
    unpack_q4_k_scales(x.scales, sc, mn);
    std::int8_t* y = out.q + kSuperBlock * b;
    const std::uint8_t* ql = x.qs;
    for (int chunk = 0; chunk < 4; ++chunk, ql += 32) {
      const std::uint8_t low = static_cast<std::uint8_t>(1u << (2 * chunk));
      const std::uint8_t high = static_cast<std::uint8_t>(2u << (2 * chunk));
      for (int l = 0; l < 32; ++l)
        *y++ = static_cast<std::int8_t>((ql[l] & 0x0F) + ((x.qh[l] & low) != 0 ? 16 : 0));
      for (int l = 0; l < 32; ++l)
        *y++ = static_cast<std::int8_t>((ql[l] >> 4) + ((x.qh[l] & high) != 0 ? 16 : 0));
      const std::size_t g = 16 * b + 4 * static_cast<std::size_t>(chunk);
      groups(out, g, d * sc[2 * chunk], -dmin * mn[2 * chunk], 2);
      groups(out, g + 2, d * sc[2 * chunk + 1], -dmin * mn[2 * chunk + 1], 2);
    }
  }
}

}  // namespace

bool is_integer_decoded(TensorType type) noexcept {
  return is_block_decoded(type) && type != TensorType::bf16;
}

void decode_integer(TensorType type, const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  switch (type) {
    case TensorType::q4_1:
      return integer_q4_1(row, n, out);
    case TensorType::q5_0:
      return integer_q5<BlockQ5_0, false>(row, n, out);
    case TensorType::q5_1:
      return integer_q5<BlockQ5_1, true>(row, n, out);
    case TensorType::q2_k:
      return integer_q2_k(row, n, out);
    case TensorType::q3_k:
      return integer_q3_k(row, n, out);
    case TensorType::q5_k:
      return integer_q5_k(row, n, out);
    case TensorType::iq4_nl:
      return integer_iq4_nl(row, n, out);
    case TensorType::iq4_xs:
      return integer_iq4_xs(row, n, out);
    default:
      return;
  }
}

bool is_block_decoded(TensorType type) noexcept {
  switch (type) {
    case TensorType::bf16:
    case TensorType::q4_1:
    case TensorType::q5_0:
    case TensorType::q5_1:
    case TensorType::q2_k:
    case TensorType::q3_k:
    case TensorType::q5_k:
    case TensorType::iq4_nl:
    case TensorType::iq4_xs:
      return true;
    default:
      return false;
  }
}

void decode_blocks(TensorType type, const std::byte* row, float* out, std::size_t n) noexcept {
  switch (type) {
    case TensorType::bf16:
      return decode_bf16(row, out, n);
    case TensorType::q4_1:
      return decode_q4_1(row, out, n);
    case TensorType::q5_0:
      return decode_q5_0(row, out, n);
    case TensorType::q5_1:
      return decode_q5_1(row, out, n);
    case TensorType::q2_k:
      return decode_q2_k(row, out, n);
    case TensorType::q3_k:
      return decode_q3_k(row, out, n);
    case TensorType::q5_k:
      return decode_q5_k(row, out, n);
    case TensorType::iq4_nl:
      return decode_iq4_nl(row, out, n);
    case TensorType::iq4_xs:
      return decode_iq4_xs(row, out, n);
    default:
      return;
  }
}

}  // namespace llorch::engine
