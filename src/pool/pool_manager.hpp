// `llorch pool-manager`: spawns and supervises the workers a config declares, serves the pool API,
// and relays every worker's narration into its own log.
#pragma once

#include "pool/pool_config.hpp"

namespace llorch::pool {

// Runs until SIGTERM/SIGINT, then stops every worker and returns 0; returns 4 when its port
// cannot be bound.
int run_pool_manager(PoolConfig config);

}  // namespace llorch::pool
