// The ggml tensor types llorch knows, their GGUF ids and block layouts, and half-float conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llorch::engine {

// Values are the GGUF/ggml type ids.
enum class TensorType : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q8_0 = 8,
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

float f16_to_f32(std::uint16_t half) noexcept;
std::uint16_t f32_to_f16(float value) noexcept;  // round to nearest even

}  // namespace llorch::engine
