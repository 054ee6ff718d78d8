// A real HTTP server inside the test process, on 127.0.0.1 and a free port, running on a thread
// of its own until it goes: a stand-in orchestrator, a hostile worker.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>
#include <thread>

#include "net/http_server.hpp"

namespace llorch::testing {

class TestServer {
 public:
  explicit TestServer(net::Handler handler) : server_(io_, std::move(handler)) {
    server_.listen("127.0.0.1", 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

 private:
  boost::asio::io_context io_;
  net::HttpServer server_;
  std::thread thread_;
};

}  // namespace llorch::testing
