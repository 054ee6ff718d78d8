// Randomness that must not be guessed (task ids, tokens, worker secrets): the kernel's CSPRNG
// through getrandom(2), never a seeded generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace llorch::narration {

// Fills `size` bytes; blocks only until the kernel's pool is initialised (at boot).
void fill_secure_random(void* data, std::size_t size);

std::uint64_t secure_random_u64();

// `bytes` random bytes as lower-case hex (2 × bytes characters): tokens and secrets.
std::string secure_random_hex(std::size_t bytes);

}  // namespace llorch::narration
