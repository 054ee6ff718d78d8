// libFuzzer target: any bytes as a pool config file and as the body of POST /v1/workers. Both
// parsers answer with a config or with named problems, never crash or throw anything else.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pool/pool_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llorch::pool;
  const std::string text(reinterpret_cast<const char*>(data), size);
  PoolConfig config;
  try {
    parse_pool_config(text, "fuzz.toml", "/nonexistent", config);
  } catch (const ConfigError& e) {
    if (std::string(e.what()).empty()) std::abort();
  }
  WorkerSpec spec;
  for (const auto& error : parse_worker_request(text, "/nonexistent", spec)) {
    if (error.message.empty() || error.constraint.empty()) std::abort();
  }
  try {
    parse_port_range(text);
  } catch (const ConfigError&) {
  }
  return 0;
}
