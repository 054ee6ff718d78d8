// The device a worker runs on, as every process spells it: cpu, cuda:N or metal:N.
#pragma once

#include <string_view>

namespace llorch::api {

bool is_device_name(std::string_view device) noexcept;

}  // namespace llorch::api
