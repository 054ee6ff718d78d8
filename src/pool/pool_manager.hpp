// `llorch pool-manager`: spawns and supervises the workers a config declares, serves the pool API,
// and relays every worker's narration into its own log. The PoolManager object runs on an
// io_context it is given, so that `llorch serve` can run an orchestrator beside it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "pool/pool_config.hpp"

namespace llorch::pool {

class PoolManager {
 public:
  PoolManager(boost::asio::io_context& io, PoolConfig config);
  ~PoolManager();
  PoolManager(const PoolManager&) = delete;
  PoolManager& operator=(const PoolManager&) = delete;

  // Binds the pool API (narrated), spawns the declared workers and starts the orchestrator link;
  // false when the port cannot be bound.
  bool start();
  std::string url() const;
  // Called once, on the io thread, when every worker has failed (none will be restarted), with
  // each one's reason. Set before start().
  void on_all_failed(std::function<void(const std::string& reasons)> tell);
  std::size_t live_processes() const;
  // Stops every worker (SIGTERM, SIGKILL after the drain timeout), says goodbye to the
  // orchestrator, ends the narration feeds, lets answers in flight finish, then calls `done`.
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs until SIGTERM/SIGINT, then stops every worker and returns 0; returns 4 when its port
// cannot be bound.
int run_pool_manager(PoolConfig config);

}  // namespace llorch::pool
