// One JetStream key-value bucket on a NATS server: open it or create it, put, create, compare-and-
// set, delete, and read every live entry. Entries older than the bucket's TTL are removed by the
// server: that is how a silent pool (or orchestrator replica) leaves its registry.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/state_url.hpp"

namespace llorch::state {

class NatsLink;

class NatsBucket {
 public:
  // Opens `bucket` over `link` (created with `ttl` when missing; 0: entries never expire).
  // Throws std::runtime_error naming the server, the cause (no JetStream, a bucket made with
  // another TTL) and the fix.
  NatsBucket(std::shared_ptr<NatsLink> link, const std::string& bucket,
             std::chrono::milliseconds ttl);
  // The same over a connection of its own (throws as NatsLink does when it cannot connect).
  NatsBucket(const StateConfig& config, const std::string& bucket, std::chrono::milliseconds ttl);
  ~NatsBucket();
  NatsBucket(const NatsBucket&) = delete;
  NatsBucket& operator=(const NatsBucket&) = delete;

  // Each throws std::runtime_error with the server's reason.
  void put(const std::string& key, std::string_view value);
  void remove(const std::string& key);
  std::vector<std::pair<std::string, std::string>> entries();

  // An entry with its revision, for compare-and-set.
  struct Versioned {
    std::string value;
    std::uint64_t revision = 0;
  };
  std::optional<Versioned> get(const std::string& key);
  // Writes only when the key is absent (create) or still at `revision` (update); returns the new
  // revision, or nullopt when another writer came first.
  std::optional<std::uint64_t> create(const std::string& key, std::string_view value);
  std::optional<std::uint64_t> update(const std::string& key, std::string_view value,
                                      std::uint64_t revision);

  // The next put or delete in the bucket, waiting up to `timeout` (nullopt: none came). The first
  // calls give the entries there are when watching starts. Expiries send nothing (JetStream
  // removes old entries silently): only reading entries() again notices them. One thread
  // watches; the other calls may come from any thread meanwhile.
  struct Change {
    std::string key;
    std::string value;  // empty for a delete
    bool deleted = false;
  };
  std::optional<Change> next_change(std::chrono::milliseconds timeout);

  const std::string& url() const noexcept;

 private:
  void create(std::chrono::milliseconds ttl);  // throws naming the likely causes
  // "NATS at URL: <doing> <bucket>: <the server's reason>".
  std::runtime_error failure(std::string_view doing, int status) const;

  struct Handles;
  std::unique_ptr<Handles> handles_;
  std::shared_ptr<NatsLink> link_;
  std::string bucket_;
  std::string stream_;  // the JetStream stream that holds it: KV_<bucket>
};

// The pool registry: bucket llorch_pools, each pool's entry living config.registry_ttl past its
// last write. Pool managers write it, orchestrators read it. Over `link` when given, else over a
// connection of its own.
std::unique_ptr<NatsBucket> open_pool_registry(const StateConfig& config,
                                               std::shared_ptr<NatsLink> link = nullptr);

}  // namespace llorch::state
