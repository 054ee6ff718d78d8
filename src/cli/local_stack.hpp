// The single-machine stack: an orchestrator and a pool manager in one process on one io_context,
// workers as child processes. `llorch serve` runs it until a signal; `llorch run --model` starts it
// for one request.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "orchestrator/orchestrator_service.hpp"

namespace llorch::cli {

struct LocalStackOptions {
  std::string model;
  std::size_t workers = 1;
  std::size_t threads = 1;
  std::size_t slots = 1;
  std::size_t context_length = 0;
  std::size_t kv_size = 0;  // per worker; 0: slots × context
  std::string kv_type = "f16";
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // the orchestrator's; the pool manager takes any free port
  std::size_t queue_size = 64;
  std::chrono::milliseconds queue_timeout{300000};
  orchestrator::ServiceConfig service;  // API keys, metrics token (the pool token is made here)
  std::string worker_binary;            // default: this executable
};

class LocalStack {
 public:
  LocalStack(boost::asio::io_context& io, LocalStackOptions options);
  ~LocalStack();
  // Binds both APIs and spawns the workers; false (narrated) when a port cannot be bound.
  bool start();
  std::string url() const;  // the orchestrator's
  // Called once, on the io thread, when every worker has failed (the model cannot load, the
  // device is missing): nothing will ever serve. Set before start().
  void on_failed(std::function<void(const std::string& reasons)> tell);
  // The orchestrator ends every task first (the workers are still there to say CANCELLED), then
  // the pool manager stops the workers; `done` runs on the io thread.
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llorch::cli
