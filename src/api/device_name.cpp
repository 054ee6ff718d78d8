#include "api/device_name.hpp"

namespace llorch::api {

bool is_device_name(std::string_view device) noexcept {
  const auto numbered = [&](std::string_view prefix) {
    if (device.substr(0, prefix.size()) != prefix || device.size() == prefix.size()) return false;
    for (char c : device.substr(prefix.size()))
      if (c < '0' || c > '9') return false;
    return device.size() - prefix.size() <= 3;
  };
  return device == "cpu" || numbered("cuda:") || numbered("metal:");
}

}  // namespace llorch::api
