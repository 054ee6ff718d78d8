// The pool's workers: spawns them, follows each through its states, restarts the ones that crash
// (with backoff, until they crash too often), and stops them all on shutdown. Every transition is
// narrated. Runs on one io_context: call every member from its thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/errors.hpp"
#include "pool/child_process.hpp"
#include "pool/pool_config.hpp"
#include "pool/pool_metrics.hpp"
#include "pool/port_allocator.hpp"
#include "pool/worker_state.hpp"

namespace llorch::pool {

// What the API and the orchestrator see of one worker.
struct WorkerView {
  std::string id;
  WorkerState state = WorkerState::starting;
  std::string url;  // empty until it called back
  WorkerSpec spec;
  int pid = 0;  // 0 when no process runs
  int restarts = 0;
  std::string last_error;
  std::size_t slots_busy = 0;
  std::string secret;  // the worker's LLORCH_WORKER_TOKEN; listed only to token holders
};

// The answer to a ready callback.
struct ReadyAnswer {
  unsigned status = 200;
  std::string code;  // error code when status != 200
  std::string message;
  std::vector<api::FieldError> details;
};

class Supervisor {
 public:
  Supervisor(boost::asio::io_context& io, const PoolConfig& config, std::string callback_url,
             PoolMetrics& metrics);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Adds a worker and starts it; returns it as it is now (starting, or crashed when it could not
  // be started — the restart policy then applies).
  WorkerView spawn(const WorkerSpec& spec);

  enum class RemoveResult { draining, removed, not_found };
  // A running worker is told to stop (SIGTERM, SIGKILL after the drain timeout) and leaves the
  // list once it has exited; one with no process (crashed) leaves at once.
  RemoveResult remove(const std::string& id);

  // POST /v1/workers/ready: checks the bearer token the worker was given and the body.
  ReadyAnswer ready(const std::string& authorization, const std::string& body);

  std::vector<WorkerView> workers() const;
  std::optional<WorkerView> worker(const std::string& id) const;
  // The latest list, from any thread (the orchestrator link reads it).
  std::vector<WorkerView> snapshot() const;
  // Processes running now.
  std::size_t live_processes() const;
  // Called (on the io thread) whenever a worker's state or address changes.
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }

  // Stops every worker (SIGTERM; SIGKILL after the drain timeout) and restarts none; calls
  // `done` once no worker process is left.
  void shutdown(std::function<void()> done);

 private:
  struct Worker;
  struct HealthResult;

  Worker* find(const std::string& id);
  void start(Worker& w);
  void transition(Worker& w, WorkerState state, const std::string& why);
  void crashed(Worker& w, const std::string& reason, const ExitStatus* status);
  // Marks a worker that no restart can mend (its model cannot load, its device is missing).
  void failed(Worker& w, const std::string& reason, const ExitStatus& status);
  void on_output(const std::string& id, std::uint64_t generation, OutputStream stream,
                 std::string line);
  void on_exit(const std::string& id, std::uint64_t generation, ExitStatus status);
  void on_ready_timeout(const std::string& id, std::uint64_t generation);
  void schedule_health_poll();
  void apply_health(const std::vector<HealthResult>& results);
  void kill_after_drain_timeout(Worker& w);
  void maybe_finish_shutdown();
  void publish();
  WorkerView view(const Worker& w) const;

  boost::asio::io_context& io_;
  PoolConfig config_;
  std::string callback_url_;
  PoolMetrics& metrics_;
  PortAllocator ports_;
  boost::asio::steady_timer health_timer_;
  std::thread health_thread_;
  std::shared_ptr<std::atomic<bool>> health_running_;
  std::uint64_t next_number_ = 1;
  bool shutting_down_ = false;
  std::function<void()> on_shutdown_done_;
  mutable std::mutex snapshot_mutex_;
  std::vector<WorkerView> snapshot_;
  std::string published_states_;  // ids, states and addresses at the last publish()
  std::function<void()> on_change_;
  // Last, so that it is destroyed first: the child processes' threads use the members above.
  std::map<std::string, std::unique_ptr<Worker>> workers_;
};

}  // namespace llorch::pool
