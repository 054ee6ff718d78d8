// Where the shared state lives (--state nats://HOST:PORT) and how to sign in to it: the
// credentials come from the environment, never the command line (`ps` shows every user that).
#pragma once

#include <chrono>
#include <string>

namespace llorch::state {

struct StateConfig {
  std::string url;       // nats://host:port
  std::string token;     // LLORCH_NATS_TOKEN
  std::string user;      // LLORCH_NATS_USER
  std::string password;  // LLORCH_NATS_PASSWORD
  // How long a pool's registry entry lives without a heartbeat; every process sharing the
  // substrate must use the same value (the bucket is created with it).
  std::chrono::milliseconds registry_ttl{15000};
  // How the server lists the connection (its /connz page): which process of which role.
  std::string client_name;
};

// Checks `url` ("nats://host:port") and reads the credentials from the environment. Throws
// std::invalid_argument naming what is wrong and the fix.
StateConfig state_config(const std::string& url, std::chrono::milliseconds registry_ttl);

}  // namespace llorch::state
