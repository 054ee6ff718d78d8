// Weights rearranged, once at load, into the layouts the SIMD kernels read fastest. Q4_0 becomes
// Q4_0 planar (see TensorType): the same bytes per row, so a decoded token reads no more memory,
// but a step of the kernel does half the work. The copies live in anonymous memory the model owns,
// on transparent huge pages where the OS allows them: a token walks every weight, and 2 MiB pages
// need 512 times fewer TLB entries than the file mapping's 4 KiB ones.
#pragma once

#include <cstddef>

#include "engine/model.hpp"

namespace llorch::engine {

// Repacks every Q4_0 tensor of `model` in place (tensors keep their shapes; their type becomes
// q4_0_planar and their data points into a buffer added to model.storage). Returns the bytes
// repacked (0 when the model has no Q4_0). Throws ModelError when the memory cannot be had.
std::size_t repack_for_kernels(Model& model);

}  // namespace llorch::engine
