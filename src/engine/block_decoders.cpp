#include "engine/block_decoders.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

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

template <typename Block>
std::uint32_t high_bits(const Block& x) noexcept {
  std::uint32_t qh;
  std::memcpy(&qh, x.qh, 4);
  return qh;
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

// Every block-decoded type: BF16's float decoder, the others' integer one (their float values are
// scale · q + offset, expanded from it, so that both paths decode one way).
struct Decoders {
  TensorType type;
  void (*to_float)(const std::byte* row, float* out, std::size_t n) noexcept;
  void (*to_integer)(const std::byte* row, std::size_t n, IntegerRow out) noexcept;
};

constexpr Decoders kDecoders[] = {
    {TensorType::bf16, decode_bf16, nullptr},
    {TensorType::q4_1, nullptr, integer_q4_1},
    {TensorType::q5_0, nullptr, integer_q5<BlockQ5_0, false>},
    {TensorType::q5_1, nullptr, integer_q5<BlockQ5_1, true>},
    {TensorType::q2_k, nullptr, integer_q2_k},
    {TensorType::q3_k, nullptr, integer_q3_k},
    {TensorType::q5_k, nullptr, integer_q5_k},
    {TensorType::iq4_nl, nullptr, integer_iq4_nl},
    {TensorType::iq4_xs, nullptr, integer_iq4_xs},
};

const Decoders* decoders_of(TensorType type) noexcept {
  for (const auto& d : kDecoders)
    if (d.type == type) return &d;
  return nullptr;
}

}  // namespace

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

bool is_block_decoded(TensorType type) noexcept {
  return decoders_of(type) != nullptr;
}

bool is_integer_decoded(TensorType type) noexcept {
  const Decoders* d = decoders_of(type);
  return d != nullptr && d->to_integer != nullptr;
}

void decode_integer(TensorType type, const std::byte* row, std::size_t n, IntegerRow out) noexcept {
  if (const Decoders* d = decoders_of(type); d != nullptr && d->to_integer != nullptr)
    d->to_integer(row, n, out);
}

IntegerRow decode_integer_on_thread(TensorType type, const std::byte* row, std::size_t n) {
  thread_local std::vector<std::int8_t> q;
  thread_local std::vector<float> scale;
  thread_local std::vector<float> offset;
  q.resize(n);
  scale.resize(n / 16);
  offset.resize(n / 16);
  const IntegerRow out{q.data(), scale.data(), offset.data()};
  decode_integer(type, row, n, out);
  return out;
}

void decode_blocks(TensorType type, const std::byte* row, float* out, std::size_t n) noexcept {
  const Decoders* d = decoders_of(type);
  if (d == nullptr) return;
  if (d->to_float != nullptr) return d->to_float(row, out, n);
  // 256 values at a time (a whole number of blocks of every type).
  const TypeTraits& t = traits(type);
  std::int8_t q[kSuperBlock];
  float scale[kSuperBlock / 16];
  float offset[kSuperBlock / 16];
  for (std::size_t done = 0; done < n; done += kSuperBlock) {
    const std::size_t count = std::min(kSuperBlock, n - done);
    d->to_integer(row + done / t.block_elements * t.block_bytes, count, {q, scale, offset});
    for (std::size_t i = 0; i < count; ++i) out[done + i] = scale[i / 16] * q[i] + offset[i / 16];
  }
}

}  // namespace llorch::engine
