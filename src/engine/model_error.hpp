// The one error type of model loading: says which file and what is wrong with it.
#pragma once

#include <stdexcept>
#include <string>

namespace llorch::engine {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace llorch::engine
