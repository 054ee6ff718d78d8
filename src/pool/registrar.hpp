// Where a pool manager announces itself and its workers: the orchestrator's HTTP API (register,
// then heartbeats), or the registry bucket on the shared NATS substrate (one entry per pool,
// rewritten each heartbeat, expiring when the heartbeats stop).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "state/state_url.hpp"

namespace llorch::pool {

class Registrar {
 public:
  virtual ~Registrar() = default;
  // Whom it announces to, for narration ("the orchestrator at http://…", "NATS at nats://…").
  virtual std::string where() const = 0;
  // Registers or refreshes the pool; `report` is {pool_id, url, workers}. False with `problem`
  // when it could not. `first` is set when this call registered it (rather than refreshed it).
  virtual bool announce(const nlohmann::ordered_json& report, bool& first,
                        std::string& problem) = 0;
  // The pool is leaving: one attempt. False with `problem`.
  virtual bool withdraw(const std::string& pool_id, std::string& problem) = 0;
};

// POST /v1/pools, then POST /v1/pools/{id}/heartbeat; registers again when the orchestrator
// forgot the pool (404); DELETE /v1/pools/{id} to leave. `token`: LLORCH_ORCHESTRATOR_TOKEN.
std::unique_ptr<Registrar> http_registrar(std::string orchestrator_url, std::string token);

// Key `pool_id` of the `llorch_pools` bucket. Connects lazily (and again after a failure), so a
// pool manager starts while the NATS server is still coming up.
std::unique_ptr<Registrar> nats_registrar(state::StateConfig config);

}  // namespace llorch::pool
