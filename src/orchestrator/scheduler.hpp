// Admission, the queue and dispatch: tasks wait in a bounded FIFO queue and go to a free slot of
// any ready worker of any pool; each running task's stream is relayed by a thread of its own.
// Thread-safe: HTTP handlers, relay threads and the pool pollers all call it.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/orchestrator_metrics.hpp"
#include "orchestrator/pool_registry.hpp"
#include "orchestrator/relay.hpp"
#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

struct SchedulerConfig {
  std::size_t queue_size = 64;       // tasks waiting at most; more get 429
  std::size_t retained_tasks = 200;  // finished tasks kept for GET and resume, with every event
  std::chrono::milliseconds pool_timeout{15000};    // a registered pool silent this long is gone
  int max_attempts = 3;                             // placements tried before a task fails
  std::chrono::milliseconds queue_timeout{300000};  // a task waiting this long ends with an error
  std::string pool_api_token;  // LLORCH_POOL_TOKEN: shown to pool managers' APIs (crash reports)
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, OrchestratorMetrics& metrics);
  ~Scheduler();  // shutdown() if not done
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class CancelResult { cancelled, already_ended, not_found };

  struct Admission {
    bool admitted = false;
    std::size_t position = 0;  // 1-based place in the queue (0: dispatched at once)
    std::size_t waiting = 0;   // tasks in the queue, this one included
    std::size_t capacity = 0;
    std::string unavailable;  // not admitted: every worker for its model failed (why, and the fix)
  };
  // Queues the task (narrated) and dispatches what can run; refuses when the queue is full, the
  // orchestrator is stopping, or no worker can ever serve its model (`unavailable` says why).
  Admission admit(const std::shared_ptr<Task>& task);

  // With shared state: a task this replica claimed from the shared queue joins the local one
  // (already admitted and narrated there; false when stopping) …
  bool take(const std::shared_ptr<Task>& task);
  // A replica that stops hands back to the shared queue every task no worker has taken yet: out
  // of the scheduler, not ended. Nothing more is placed; attempts in flight are awaited (up to
  // `patience`) so a task a worker refuses meanwhile comes back too rather than be cancelled.
  std::vector<std::shared_ptr<Task>> release_unstarted(std::chrono::milliseconds patience);
  // … which it does only while a worker has a free slot and nothing waits here.
  bool has_free_slot() const;
  // Called (under the scheduler's lock: keep it short) whenever a slot may have come free.
  void set_on_capacity(std::function<void()> on_capacity);
  // Cancels that find no task here go there (the replica that holds it); reader_left too.
  using CancelElsewhere =
      std::function<CancelResult(const std::string& id, const std::string& why)>;
  void set_cancel_elsewhere(CancelElsewhere elsewhere);
  // Where a worker the registry knows is, with its secrets (a replica ending another's task).
  std::optional<Placement> placement_of(const std::string& pool_id,
                                        const std::string& worker_id) const;

  std::shared_ptr<Task> find(const std::string& id) const;
  std::size_t queue_position(const std::string& id) const;  // 1-based; 0 when not waiting

  CancelResult cancel(const std::string& id, const std::string& why);
  // A reader of the task's stream went away: cancels it when it asked for that and no reader is
  // left.
  void reader_left(const std::shared_ptr<Task>& task);

  // Pools: a registration or poll (`registered`: it will send heartbeats), a heartbeat (false:
  // unknown pool), a goodbye.
  void update_pool(PoolReport report, bool registered);
  bool heartbeat(PoolReport report);
  bool forget_pool(const std::string& pool_id);
  // Forgets registered pools not heard from within the pool timeout; ends (WORKER_LOST, with the
  // cause) running tasks whose pool left the registry and whose stream has gone silent. Called
  // every second.
  void expire_pools();
  // Ends queued tasks that have waited longer than the queue timeout (narrated, with an error),
  // and dispatches what can run now.
  void expire_queued();
  nlohmann::ordered_json pools_json() const;
  std::vector<std::string> pool_urls() const;  // every known pool manager's
  // GET /v2/tasks: the queue in order, then running and recently ended tasks, newest first
  // (`ended_limit` of the ended at most); only `owner`'s tasks unless `everyone`.
  nlohmann::ordered_json tasks_json(const std::string& owner, bool everyone,
                                    std::size_t ended_limit) const;
  std::vector<std::string> models() const;
  long model_created(const std::string& id) const;
  bool serves(const std::string& model) const;
  // Crashed and failed workers, for /health: [{pool_id, worker_id, state, reason}].
  nlohmann::ordered_json problems() const;
  // PoolRegistry::why_unservable under the lock.
  std::string why_unservable(const std::string& model) const;
  // Why no task for `model` can run, and the fix, or "" while one can.
  std::string unavailable(const std::string& model) const;
  bool has_workers() const;

  struct Load {
    std::size_t queued = 0;
    std::size_t running = 0;
    std::size_t ready_workers = 0;
    std::size_t pools = 0;
  };
  Load load() const;

  // Refuses new tasks, fails the queued ones, cancels the running ones on their workers and waits
  // (up to `patience`) for their streams to end. Idempotent.
  void shutdown(std::chrono::milliseconds patience);

 private:
  void dispatch_locked();
  // Where a task placed on `worker` of `pool` runs, with the secrets to reach it.
  Placement placement_locked(const PoolEntry& pool, const WorkerEntry& worker) const;
  void start_relay_locked(const std::shared_ptr<Task>& task, PoolEntry& pool, WorkerEntry& worker);
  void run_relay(std::shared_ptr<Task> task, Placement where);
  void after_relay(const std::shared_ptr<Task>& task, const Placement& where,
                   const RelayResult& result);
  void release_slot_locked(const Placement& where);
  void narrate_positions_locked();
  // Ends a queued task (already out of the queue) with an error event: it never ran.
  void fail_queued_locked(const std::shared_ptr<Task>& task, std::string_view code,
                          const std::string& message);
  void retire_locked(const std::shared_ptr<Task>& task);
  void reap_relays();

  SchedulerConfig config_;
  OrchestratorMetrics& metrics_;
  boost::asio::thread_pool helpers_{2};  // short blocking calls: cancels

  mutable std::mutex mutex_;
  PoolRegistry registry_;
  std::deque<std::shared_ptr<Task>> queue_;
  std::map<std::string, std::shared_ptr<Task>> tasks_;
  std::deque<std::string> finished_;  // ids of ended tasks, oldest first (retention)
  std::map<std::string, std::thread> relays_;
  std::vector<std::thread> ended_relays_;  // joined by the next caller that is not a relay
  std::size_t running_ = 0;
  bool stopping_ = false;
  bool releasing_ = false;  // release_unstarted: place nothing more, keep what comes back
  std::condition_variable relays_done_;
  std::function<void()> on_capacity_;
  CancelElsewhere cancel_elsewhere_;
};

}  // namespace llorch::orchestrator
