#include "engine/quant.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "engine/block_decoders.hpp"

namespace llorch::engine {

void quantize_row_q8_0(const float* x, BlockQ8_0* out, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = f32_to_f16(d);
    for (int j = 0; j < 32; ++j) out[b].qs[j] = static_cast<std::int8_t>(std::lround(x[j] * id));
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* out, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f;
    float max = 0.0f;  // the value of largest magnitude, with its sign
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = f32_to_f16(d);
    for (int j = 0; j < 16; ++j) {
      const auto lo = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(x[j] * id + 8.5f))));
      const auto hi = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(x[j + 16] * id + 8.5f))));
      out[b].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_row_f16(const float* x, std::uint16_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

namespace {

// The scales and minimums of one K-quant super-block of 8 sub-blocks of 32 (Q4_K, Q5_K):
// value ≈ d·sc[j]·q - dmin·mn[j] with q in 0..levels-1 and 6-bit sc, mn; a plain min/max fit.
// Writes d, dmin and the packed scales, and q (256 values) against what the file will say.
struct KQuantFit {
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[12];
};

KQuantFit fit_k_quant(const float* x, int levels, std::uint8_t* q) noexcept {
  float scale[8];
  float min[8];
  for (int j = 0; j < 8; ++j) {
    const float* v = x + 32 * j;
    const auto [lo, hi] = std::minmax_element(v, v + 32);
    min[j] = std::max(0.0f, -*lo);
    scale[j] = (*hi + min[j]) / static_cast<float>(levels - 1);
  }
  const float max_scale = *std::max_element(scale, scale + 8);
  const float max_min = *std::max_element(min, min + 8);
  const float d = max_scale / 63.0f;
  const float dmin = max_min / 63.0f;
  KQuantFit fit{f32_to_f16(d), f32_to_f16(dmin), {}};
  std::uint8_t sc[8];
  std::uint8_t mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<std::uint8_t>(
        std::clamp(d > 0.0f ? static_cast<int>(std::lround(scale[j] / d)) : 0, 0, 63));
    mn[j] = static_cast<std::uint8_t>(
        std::clamp(dmin > 0.0f ? static_cast<int>(std::lround(min[j] / dmin)) : 0, 0, 63));
  }
  for (int j = 0; j < 4; ++j) {
    fit.scales[j] = static_cast<std::uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    fit.scales[j + 4] = static_cast<std::uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    fit.scales[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4));
  }
  const float stored_d = f16_to_f32(fit.d);
  const float stored_dmin = f16_to_f32(fit.dmin);
  for (int j = 0; j < 8; ++j) {
    const float step = stored_d * sc[j];
    const float offset = stored_dmin * mn[j];
    for (int i = 0; i < 32; ++i) {
      const int v =
          step > 0.0f ? static_cast<int>(std::lround((x[32 * j + i] + offset) / step)) : 0;
      q[32 * j + i] = static_cast<std::uint8_t>(std::clamp(v, 0, levels - 1));
    }
  }
  return fit;
}

}  // namespace

void quantize_row_q4_k(const float* x, BlockQ4_K* out, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b, x += kSuperBlock) {
    std::uint8_t q[256];
    const KQuantFit fit = fit_k_quant(x, 16, q);
    out[b].d = fit.d;
    out[b].dmin = fit.dmin;
    std::memcpy(out[b].scales, fit.scales, sizeof fit.scales);
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        out[b].qs[32 * chunk + l] =
            static_cast<std::uint8_t>(q[64 * chunk + l] | (q[64 * chunk + 32 + l] << 4));
      }
    }
  }
}

void quantize_row_q5_k(const float* x, BlockQ5_K* out, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b, x += kSuperBlock) {
    std::uint8_t q[256];
    const KQuantFit fit = fit_k_quant(x, 32, q);
    out[b].d = fit.d;
    out[b].dmin = fit.dmin;
    std::memcpy(out[b].scales, fit.scales, sizeof fit.scales);
    // Each 64 values: low nibbles of the first 32 and high nibbles of the next 32 share bytes
    // (as Q4_K); their fifth bits are bits 2·chunk and 2·chunk+1 of qh.
    std::memset(out[b].qh, 0, sizeof out[b].qh);
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        const std::uint8_t low = q[64 * chunk + l];
        const std::uint8_t high = q[64 * chunk + 32 + l];
        out[b].qs[32 * chunk + l] = static_cast<std::uint8_t>((low & 0x0F) | ((high & 0x0F) << 4));
        out[b].qh[l] = static_cast<std::uint8_t>(out[b].qh[l] | ((low >> 4) << (2 * chunk)) |
                                                 ((high >> 4) << (2 * chunk + 1)));
      }
    }
  }
}

void quantize_row_bf16(const float* x, std::uint16_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, x + i, 4);
    // Round to nearest even on the 16 bits dropped (weights are finite).
    bits += 0x7FFF + ((bits >> 16) & 1);
    out[i] = static_cast<std::uint16_t>(bits >> 16);
  }
}

void quantize_row_q6_k(const float* x, BlockQ6_K* out, std::size_t n) noexcept {
  for (std::size_t b = 0; b < n / kSuperBlock; ++b, x += kSuperBlock) {
    // Per 16 values: value ≈ scale * q with q in -32..31.
    float scale[16];
    for (int j = 0; j < 16; ++j) {
      float amax = 0.0f;
      for (int i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(x[16 * j + i]));
      scale[j] = amax / 32.0f;
    }
    const float max_scale = *std::max_element(scale, scale + 16);
    const float d = max_scale / 127.0f;
    out[b].d = f32_to_f16(d);
    const float stored_d = f16_to_f32(out[b].d);
    std::uint8_t q[256];  // q + 32, 0..63
    for (int j = 0; j < 16; ++j) {
      out[b].scales[j] = static_cast<std::int8_t>(
          std::clamp(d > 0.0f ? static_cast<int>(std::lround(scale[j] / d)) : 0, -127, 127));
      const float step = stored_d * out[b].scales[j];
      for (int i = 0; i < 16; ++i) {
        const int v = step != 0.0f ? static_cast<int>(std::lround(x[16 * j + i] / step)) : 0;
        q[16 * j + i] = static_cast<std::uint8_t>(std::clamp(v, -32, 31) + 32);
      }
    }
    for (int half = 0; half < 2; ++half) {
      std::uint8_t* ql = out[b].ql + 64 * half;
      std::uint8_t* qh = out[b].qh + 32 * half;
      const std::uint8_t* v = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<std::uint8_t>((v[l] & 0x0F) | ((v[l + 64] & 0x0F) << 4));
        ql[l + 32] = static_cast<std::uint8_t>((v[l + 32] & 0x0F) | ((v[l + 96] & 0x0F) << 4));
        qh[l] = static_cast<std::uint8_t>((v[l] >> 4) | ((v[l + 32] >> 4) << 2) |
                                          ((v[l + 64] >> 4) << 4) | ((v[l + 96] >> 4) << 6));
      }
    }
  }
}

void quantize_row(TensorType type, const float* x, std::byte* out, std::size_t n) noexcept {
  switch (type) {
    case TensorType::f32:
      std::memcpy(out, x, n * sizeof(float));
      return;
    case TensorType::f16:
      return quantize_row_f16(x, reinterpret_cast<std::uint16_t*>(out), n);
    case TensorType::q8_0:
      return quantize_row_q8_0(x, reinterpret_cast<BlockQ8_0*>(out), n);
    case TensorType::q4_0:
      return quantize_row_q4_0(x, reinterpret_cast<BlockQ4_0*>(out), n);
    case TensorType::q4_0_planar:
      for (std::size_t b = 0; b < n / 32; ++b) {
        BlockQ4_0 block;
        quantize_row_q4_0(x + 32 * b, &block, 32);
        std::memcpy(out + q4_0_planar_quants(b), block.qs, 16);
        std::memcpy(out + q4_0_planar_scale(n / 32, b), &block.d, 2);
      }
      return;
    case TensorType::q4_k:
      return quantize_row_q4_k(x, reinterpret_cast<BlockQ4_K*>(out), n);
    case TensorType::q6_k:
      return quantize_row_q6_k(x, reinterpret_cast<BlockQ6_K*>(out), n);
    case TensorType::q5_k:
      return quantize_row_q5_k(x, reinterpret_cast<BlockQ5_K*>(out), n);
    case TensorType::bf16:
      return quantize_row_bf16(x, reinterpret_cast<std::uint16_t*>(out), n);
    default:
      return;  // the decoded types are read from files, never written by llorch
  }
}

namespace {

void dequantize_q4_0_block(const std::uint8_t* qs, std::uint16_t scale, float* out) noexcept {
  const float d = f16_to_f32(scale);
  for (int j = 0; j < 16; ++j) {
    out[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    out[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

}  // namespace

void repack_q4_0_planar(const std::byte* q4_0_row, std::byte* out, std::size_t n) noexcept {
  const std::size_t blocks = n / 32;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::byte* block = q4_0_row + b * sizeof(BlockQ4_0);
    std::memcpy(out + q4_0_planar_quants(b), block + offsetof(BlockQ4_0, qs), 16);
    std::memcpy(out + q4_0_planar_scale(blocks, b), block + offsetof(BlockQ4_0, d), 2);
  }
}

void unpack_q4_0_planar(const std::byte* planar_row, std::byte* out, std::size_t n) noexcept {
  const std::size_t blocks = n / 32;
  for (std::size_t b = 0; b < blocks; ++b) {
    std::byte* block = out + b * sizeof(BlockQ4_0);
    std::memcpy(block + offsetof(BlockQ4_0, qs), planar_row + q4_0_planar_quants(b), 16);
    std::memcpy(block + offsetof(BlockQ4_0, d), planar_row + q4_0_planar_scale(blocks, b), 2);
  }
}

void dequantize_row(TensorType type, const std::byte* row, float* out, std::size_t n) noexcept {
  if (is_block_decoded(type)) return decode_blocks(type, row, out, n);
  switch (type) {
    case TensorType::q4_0_planar:
      for (std::size_t b = 0; b < n / 32; ++b) {
        std::uint16_t d;
        std::memcpy(&d, row + q4_0_planar_scale(n / 32, b), 2);
        dequantize_q4_0_block(reinterpret_cast<const std::uint8_t*>(row + q4_0_planar_quants(b)), d,
                              out + 32 * b);
      }
      return;
    case TensorType::f32:
      std::memcpy(out, row, n * sizeof(float));
      return;
    case TensorType::f16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t h;
        std::memcpy(&h, row + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      return;
    case TensorType::q8_0:
      for (std::size_t b = 0; b < n / 32; ++b) {
        BlockQ8_0 block;
        std::memcpy(&block, row + b * sizeof block, sizeof block);
        const float d = f16_to_f32(block.d);
        for (int j = 0; j < 32; ++j) out[b * 32 + j] = d * static_cast<float>(block.qs[j]);
      }
      return;
    case TensorType::q4_0:
      for (std::size_t b = 0; b < n / 32; ++b) {
        BlockQ4_0 block;
        std::memcpy(&block, row + b * sizeof block, sizeof block);
        dequantize_q4_0_block(block.qs, block.d, out + 32 * b);
      }
      return;
    case TensorType::q4_k:
      for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
        BlockQ4_K block;
        std::memcpy(&block, row + b * sizeof block, sizeof block);
        const float d = f16_to_f32(block.d);
        const float dmin = f16_to_f32(block.dmin);
        std::uint8_t sc[8];
        std::uint8_t mn[8];
        unpack_q4_k_scales(block.scales, sc, mn);
        float* y = out + b * kSuperBlock;
        for (int chunk = 0; chunk < 4; ++chunk) {
          const std::uint8_t* q = block.qs + 32 * chunk;
          const int j = 2 * chunk;
          for (int l = 0; l < 32; ++l) {
            y[64 * chunk + l] = d * sc[j] * static_cast<float>(q[l] & 0x0F) - dmin * mn[j];
            y[64 * chunk + 32 + l] =
                d * sc[j + 1] * static_cast<float>(q[l] >> 4) - dmin * mn[j + 1];
          }
        }
      }
      return;
    case TensorType::q6_k:
      for (std::size_t b = 0; b < n / kSuperBlock; ++b) {
        BlockQ6_K block;
        std::memcpy(&block, row + b * sizeof block, sizeof block);
        const float d = f16_to_f32(block.d);
        float* y = out + b * kSuperBlock;
        for (int half = 0; half < 2; ++half) {
          const std::uint8_t* ql = block.ql + 64 * half;
          const std::uint8_t* qh = block.qh + 32 * half;
          const std::int8_t* sc = block.scales + 8 * half;
          float* v = y + 128 * half;
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            v[l] = d * sc[is] * static_cast<float>(q1);
            v[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
            v[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
            v[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
          }
        }
      }
      return;
    default:
      return;
  }
}

}  // namespace llorch::engine
