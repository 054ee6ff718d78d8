// A real `nats-server -js` for the tests: on 127.0.0.1, a port of its choosing, a temporary
// JetStream store and (optionally) a token; stopped and its store removed on destruction.
#pragma once

#include <boost/process.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

namespace llorch::testing {

class NatsServer {
 public:
  // Starts it and waits (up to 10 s) until it listens; url() is empty when it did not.
  explicit NatsServer(std::string token = "");
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::string url() const { return url_; }  // nats://127.0.0.1:PORT
  // Its monitoring endpoint (http://127.0.0.1:PORT: /connz lists the clients' connections).
  std::string monitor_url() const { return monitor_url_; }

  // SIGTERM (clients see the server gone) …
  void stop();
  // … and back on the same port and store (clients reconnect); false if it did not listen there.
  bool restart();

 private:
  void start(const std::string& port, const std::string& monitor_port);  // "-1": any free

  std::filesystem::path store_;
  std::string token_;
  std::unique_ptr<boost::process::ipstream> err_;
  boost::process::child child_;
  std::thread reader_;
  std::string url_;
  std::string monitor_url_;
};

}  // namespace llorch::testing
