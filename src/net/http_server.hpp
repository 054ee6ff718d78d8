// An asynchronous HTTP/1.1 server (Boost.Beast) that hands each request to one Handler and can
// stream responses. Runs on the io_context it is given.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/http_types.hpp"

namespace llorch::net {

// Every server's limits; the README's security section lists them.
struct ServerLimits {
  std::size_t body_bytes = 1024 * 1024;  // larger bodies get 413 and the connection is closed
  std::size_t header_bytes = 16 * 1024;  // larger header sections get 431
  int header_read_seconds = 30;          // a client that sends nothing is dropped
  std::size_t max_connections = 512;     // more get 503 TOO_MANY_CONNECTIONS at once
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Handler handler, ServerLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Throws std::system_error naming the reason (address in use, …).
  void listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const;
  // Stops accepting new connections; open ones carry on.
  void stop_accepting();
  // Requests handed to the handler whose response has not been fully written yet (streams
  // included). Shutdown waits for this to reach zero.
  int requests_in_flight() const;
  // Calls `done` on the io_context once no request is in flight, or at `deadline` (a client that
  // never finishes reading must not hold a shutdown forever).
  void when_idle(std::chrono::steady_clock::time_point deadline, std::function<void()> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace llorch::net
