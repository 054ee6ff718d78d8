// The flags of the shared state, the same on `llorch orchestrator` and `llorch pool-manager`:
// where NATS is (--state), how long a silent process's registry entry lives (--registry-ttl-ms)
// and on how many servers JetStream keeps what llorch stores (--state-replicas).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "state/state_url.hpp"

namespace llorch::cli {

struct StateFlags {
  std::string url;
  int registry_ttl_ms = 15000;
  int replicas = 1;
};

// Registers the three flags; `state_help` says what this process shares there, `ttl_help` whose
// entries expire. Returns --state (for excludes).
CLI::Option* add_state_flags(CLI::App* command, StateFlags& flags, const std::string& state_help,
                             const std::string& ttl_help);

// The state's configuration, or nullopt without --state. Throws std::invalid_argument naming
// the flag and the fix.
std::optional<state::StateConfig> read_state_flags(const StateFlags& flags);

}  // namespace llorch::cli
