// A real `nats-server -js` for the tests: on 127.0.0.1, a port of its choosing, a temporary
// JetStream store and (optionally) a token and a place in a cluster; stopped and its store
// removed on destruction.
#pragma once

#include <boost/process.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace llorch::testing {

// A server's place in a cluster: its name, the port its routes listen on, and every member's
// route URL (nats://127.0.0.1:PORT, its own included).
struct ClusterSeat {
  std::string name;
  int route_port = 0;
  std::vector<std::string> routes;
};

class NatsServer {
 public:
  // Starts it and waits (up to 10 s) until it listens; url() is empty when it did not.
  explicit NatsServer(std::string token = "", std::optional<ClusterSeat> seat = std::nullopt);
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::string url() const { return url_; }  // nats://127.0.0.1:PORT
  // Its monitoring endpoint (http://127.0.0.1:PORT: /connz lists the clients' connections).
  std::string monitor_url() const { return monitor_url_; }

  // SIGTERM (clients see the server gone) …
  void stop();
  // … or SIGKILL (a host that dies: nothing said, nothing handed over) …
  void kill();
  // SIGSTOP: connections stay open and nothing is answered (a server that hangs) until resume().
  void pause();
  void resume();
  // … and back on the same port and store (clients reconnect); false if it did not listen there.
  bool restart();

 private:
  void start(const std::string& port, const std::string& monitor_port);  // "-1": any free
  void end(int signal);  // the signal, then waits for it to exit

  std::filesystem::path store_;
  std::string token_;
  std::optional<ClusterSeat> seat_;
  std::unique_ptr<boost::process::ipstream> err_;
  boost::process::child child_;
  std::thread reader_;
  std::string url_;
  std::string monitor_url_;
};

}  // namespace llorch::testing
