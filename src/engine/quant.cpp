#include "engine/quant.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

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

void dequantize_row(TensorType type, const std::byte* row, float* out, std::size_t n) noexcept {
  switch (type) {
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
        const float d = f16_to_f32(block.d);
        for (int j = 0; j < 16; ++j) {
          out[b * 32 + j] = d * static_cast<float>((block.qs[j] & 0x0F) - 8);
          out[b * 32 + j + 16] = d * static_cast<float>((block.qs[j] >> 4) - 8);
        }
      }
      return;
  }
}

}  // namespace llorch::engine
