// A tensor type's name for a parameterized test's name: traits().name, with q4_0_planar told apart
// from q4_0 (they share the name people see).
#pragma once

#include <string>

#include "engine/tensor_type.hpp"

namespace llorch::engine {

inline std::string test_name(TensorType type) {
  return std::string(traits(type).name) + (type == TensorType::q4_0_planar ? "_planar" : "");
}

struct TypeParamName {
  template <typename ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    return test_name(info.param);
  }
};

}  // namespace llorch::engine
