// Three real `nats-server -js` on 127.0.0.1 routed into one JetStream cluster, each with its own
// temporary store: what --state-replicas 3 needs, and what a test kills one server of.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nats_server.hpp"

namespace llorch::testing {

class NatsCluster {
 public:
  // Starts the three and waits (up to 10 s) until JetStream has a leader for its metadata;
  // url() is empty when it did not.
  explicit NatsCluster(std::string token = "");

  // Every server's client URL, separated by commas (what --state takes).
  std::string url() const { return url_; }
  NatsServer& server(std::size_t i) { return *servers_.at(i); }
  std::size_t size() const { return servers_.size(); }
  // The member that leads `stream` now (its index), or -1 when none does or no member answers.
  int leader_of(const std::string& stream) const;
  // On how many servers `stream` is kept (its configured replicas), or 0 when unknown.
  int replicas_of(const std::string& stream) const;

 private:
  std::vector<std::unique_ptr<NatsServer>> servers_;
  std::vector<std::string> names_;
  std::string url_;
};

}  // namespace llorch::testing
