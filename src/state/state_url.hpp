// Where the shared state lives (--state nats://HOST:PORT, or a NATS cluster's servers separated
// by commas) and how to sign in to it: the credentials come from the environment, never the
// command line (`ps` shows every user that).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace llorch::state {

struct StateConfig {
  std::string url;                   // as given: nats://host:port[,nats://host:port…]
  std::vector<std::string> servers;  // each of them (the client learns the cluster's others)
  std::string token;                 // LLORCH_NATS_TOKEN
  std::string user;                  // LLORCH_NATS_USER
  std::string password;              // LLORCH_NATS_PASSWORD
  // How long a pool's registry entry lives without a heartbeat; every process sharing the
  // substrate must use the same value (the bucket is created with it).
  std::chrono::milliseconds registry_ttl{15000};
  // On how many servers of the cluster JetStream keeps each stream and bucket it creates (1 to
  // 5; 3 rides out the loss of one server). Also the same on every process.
  int replicas = 1;
  // How the server lists the connection (its /connz page): which process of which role.
  std::string client_name;
};

// Checks `url` ("nats://host:port", or several separated by commas) and `replicas`, and reads the
// credentials from the environment. Throws std::invalid_argument naming what is wrong and the fix.
StateConfig state_config(const std::string& url, std::chrono::milliseconds registry_ttl,
                         int replicas = 1);

}  // namespace llorch::state
