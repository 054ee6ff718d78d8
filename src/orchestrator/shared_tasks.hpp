// Orchestrator replicas sharing their tasks on NATS JetStream (--state nats://…). Admission puts
// a task's record in the llorch_tasks bucket and its id in the shared queue, which every replica
// takes from when one of its workers has a free slot; the replica that claims a task (compare-and-
// set on its record) runs it as it would its own, and every event of its stream goes to the
// event log, from which any replica serves GET /v2/tasks/{id}/events (a mirror of the task fed
// by the log), so a reader resumes through any replica. Cancels go to the replica holding the
// task. Each replica keeps an entry in llorch_replicas alive; when one's entry expires, another
// takes over its tasks: those not yet on a worker go back to the queue, those running are
// cancelled on their worker and ended with ORCHESTRATOR_LOST — never lost silently, never run
// twice to completion.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "orchestrator/orchestrator_metrics.hpp"
#include "orchestrator/scheduler.hpp"
#include "orchestrator/task.hpp"
#include "orchestrator/task_record.hpp"
#include "state/state_url.hpp"

namespace llorch::state {
class NatsLink;
class NatsBucket;
class NatsSubscription;
class TaskQueue;
class EventLog;
}  // namespace llorch::state

namespace llorch::orchestrator {

// The shared state cannot be read or written now (the server is down or unreachable): the
// request gets 503 STATE_UNAVAILABLE.
class StateUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SharedTasksConfig {
  state::StateConfig state;  // its registry_ttl is also how long a silent replica lives
  std::string replica_id;    // unique among the replicas
  std::size_t queue_size = 64;
  std::chrono::seconds retention{3600};  // records and events of a task are kept this long
  std::chrono::milliseconds queue_timeout{300000};  // longer in the shared queue ends it
};

class SharedTasks {
 public:
  // Connects and opens (or creates) the buckets and streams; throws std::runtime_error naming
  // the server, the cause and the fix.
  SharedTasks(SharedTasksConfig config, Scheduler& scheduler, OrchestratorMetrics& metrics);
  ~SharedTasks();  // stop()
  SharedTasks(const SharedTasks&) = delete;
  SharedTasks& operator=(const SharedTasks&) = delete;
  // Stops taking tasks from the shared queue and puts back the ones this replica took that wait
  // for a worker here (narrated): another replica runs them. First thing at shutdown.
  void hand_back_queued();
  // Stops everything and withdraws this replica (its running tasks end through the scheduler's
  // shutdown first: call this after it).
  void stop();

  const std::string& replica_id() const noexcept { return config_.replica_id; }
  // Its connection, for the pool registry's reader: one connection per orchestrator.
  const std::shared_ptr<state::NatsLink>& link() const noexcept { return link_; }

  // Into the shared queue (narrated into the task's stream); the same answers as
  // Scheduler::admit. Throws StateUnavailable.
  Scheduler::Admission admit(const std::shared_ptr<Task>& task);
  // The task's record (nullopt: no such task). Throws StateUnavailable.
  std::optional<TaskRecord> find(const std::string& id);
  // A local mirror of the task fed from the event log: every event from its first on, then live
  // ones, ending with its terminal event. Throws StateUnavailable.
  std::shared_ptr<Task> follow(const TaskRecord& record);
  // Cancels the task wherever it is: in the shared queue (ended here) or on the replica that
  // holds it. Throws StateUnavailable.
  Scheduler::CancelResult cancel(const std::string& id, const std::string& why);

  // GET /v2/tasks from every replica's records (this replica's copy of the bucket, kept by a
  // watcher): the shared queue in order, then running and recently ended tasks, newest first.
  nlohmann::ordered_json tasks_json(const std::string& owner, bool everyone,
                                    std::size_t ended_limit) const;
  // GET /v2/tasks/{id}: the record described, with its place in the shared queue.
  nlohmann::ordered_json describe_task(const TaskRecord& record) const;

 private:
  class Writer;
  void dispatch_loop();
  void upkeep_loop();
  void claim(const std::string& id, bool& acknowledge);
  void adopt_orphans(const std::set<std::string>& alive);
  void take_over(const std::string& id, const std::set<std::string>& alive);
  // Read-modify-write of a record by compare-and-set, retried on a race; `change` returns false
  // to leave it as it is. Returns the record as written, or nullopt. A failure of the substrate
  // is narrated unless `quietly` (a write that the next one supersedes).
  enum class Quietly { no, yes };
  std::optional<TaskRecord> modify(const std::string& id,
                                   const std::function<bool(TaskRecord&)>& change,
                                   Quietly quietly = Quietly::no);
  // A task built from its record whose frames go to the event log: to narrate into the stream
  // of a task this replica does not run (a cancel in the queue, a takeover).
  std::shared_ptr<Task> narrator_for(const TaskRecord& record);
  void sweep_mirrors();
  // Back in the shared queue (its record already says queued). Throws on failure.
  void requeue(const std::string& id);
  // A task this replica claimed but never placed: its record says queued again (false: not
  // ours, or not waiting); requeue() then puts it back in the shared queue.
  bool unclaim(const std::string& id);
  void index_loop();
  // Ends tasks that waited in the shared queue past the queue timeout (also one whose admitting
  // replica died before its id reached the queue), and forgets records past the retention.
  void expire_queued();
  // Records waiting in the shared queue, oldest first (under index_mutex_).
  std::vector<const TaskRecord*> queued_locked() const;
  // The dispatcher's wait: until a slot may have come free (consumes the news); true when it
  // must stop taking tasks.
  bool wait_for_capacity(std::chrono::milliseconds d);
  bool wait_unless_stopping(std::chrono::milliseconds d);

  SharedTasksConfig config_;
  Scheduler& scheduler_;
  OrchestratorMetrics& metrics_;
  std::shared_ptr<state::NatsLink> link_;
  std::unique_ptr<state::NatsBucket> records_;
  std::unique_ptr<state::NatsBucket> replicas_;
  std::unique_ptr<state::TaskQueue> queue_;
  std::unique_ptr<state::EventLog> events_;
  std::unique_ptr<state::NatsSubscription> cancels_;
  // Record updates of the tasks this replica runs, in order, off the tasks' locks.
  boost::asio::thread_pool record_writer_{1};

  struct Mirror {
    std::weak_ptr<Task> task;
    std::unique_ptr<state::NatsSubscription> feed;
  };
  std::mutex mirrors_mutex_;
  std::map<std::string, Mirror> mirrors_;

  // Every record, as the watcher last saw it (expiries send nothing: pruned by age).
  mutable std::mutex index_mutex_;
  std::map<std::string, TaskRecord> index_;
  std::thread indexer_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool taking_ = true;  // the dispatcher takes tasks from the shared queue
  bool capacity_changed_ = false;
  std::thread dispatcher_;
  std::thread upkeep_;
};

}  // namespace llorch::orchestrator
