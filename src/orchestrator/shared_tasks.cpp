#include "orchestrator/shared_tasks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "api/stream_events.hpp"
#include "narration/correlation.hpp"
#include "narration/narrate.hpp"
#include "orchestrator/last_problem.hpp"
#include "orchestrator/relay.hpp"
#include "state/event_log.hpp"
#include "state/nats_bucket.hpp"
#include "state/nats_link.hpp"
#include "state/task_queue.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;
using namespace std::chrono_literals;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kRecords = "llorch_tasks";
constexpr const char* kReplicas = "llorch_replicas";
// A running task's token count reaches its record this often, so any replica describes its
// progress (GET /v2/tasks) while it runs: one write a second, not one a token.
constexpr auto kProgressEvery = 1s;

std::string cancel_subject(const std::string& replica) {
  return "llorch.cancel." + replica;
}

// Runs `f`, turning the substrate's failures into StateUnavailable.
template <typename F>
auto on_state(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const StateUnavailable&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw StateUnavailable(e.what());
  }
}

}  // namespace

// Sends a task's frames to the event log as they are appended (under the task's lock: in order,
// without waiting for the server), and, for a task this replica runs, its placement and its end
// to its record (once the stream is stored).
class SharedTasks::Writer : public TaskObserver {
 public:
  Writer(SharedTasks& shared, bool runs_here) : shared_(shared), runs_here_(runs_here) {}

  void frame(const Task& task, const TaskFrame& f) override {
    try {
      shared_.events_->append(task.id(), f.type, f.data);
    } catch (const std::exception& e) {
      if (!warned_.exchange(true)) {
        // Not into the task's own stream: this runs under its lock.
        n::RequestScope outside({"", "", nullptr});
        n::error(n::actor::orchestrator, n::action::error)
            .target(task.id())
            .human(
                "Cannot send the events of task {} to NATS: {}; readers of other replicas "
                "miss them",
                task.id(), e.what())
            .error_kind("STATE_UNAVAILABLE")
            .emit();
      }
    }
    if (!runs_here_) return;
    if (f.type == "token") {
      ++tokens_;
      if (f.at - last_progress_ >= kProgressEvery) {
        last_progress_ = f.at;
        write_progress(task.id());
      }
      return;
    }
    if (f.type != "end" && f.type != "error") return;
    boost::asio::post(shared_.record_writer_, [&shared = shared_, id = task.id(), type = f.type,
                                               data = f.data, tokens = tokens_.load()] {
      // The stream is stored to its end before the record says it ended.
      try {
        shared.events_->flush(std::chrono::milliseconds(5000));
      } catch (const std::exception& e) {
        n::error(n::actor::orchestrator, n::action::error)
            .target(id)
            .human(
                "Some events did not reach NATS by the end of task {}: {}; readers of other "
                "replicas miss them",
                id, e.what())
            .error_kind("STATE_UNAVAILABLE")
            .emit();
      }
      shared.modify(id, [&](TaskRecord& r) {
        if (r.replica != shared.replica_id()) return false;  // taken over meanwhile
        note_terminal(r, type, data);
        r.tokens_out = tokens;
        return true;
      });
    });
  }

  void placed(const Task& task, const Placement& where) override {
    if (!runs_here_) return;
    boost::asio::post(shared_.record_writer_, [&shared = shared_, id = task.id(), where] {
      shared.modify(id, [&](TaskRecord& r) {
        if (r.replica != shared.replica_id() || r.ended()) return false;
        // Waiting for a worker again ("claimed"), a takeover puts it back in the shared queue.
        r.state = where.worker_id.empty() ? "claimed" : "running";
        r.pool_id = where.pool_id;
        r.worker_id = where.worker_id;
        return true;
      });
    });
  }

 private:
  void write_progress(const std::string& id) {
    boost::asio::post(shared_.record_writer_, [&shared = shared_, id, tokens = tokens_.load()] {
      // Progress only, so a failure goes unsaid: the next write, or the task's end (which
      // says so), brings the record up to date.
      shared.modify(
          id,
          [&](TaskRecord& r) {
            if (r.replica != shared.replica_id() || r.ended() || r.tokens_out >= tokens)
              return false;
            r.tokens_out = tokens;
            return true;
          },
          Quietly::yes);
    });
  }

  SharedTasks& shared_;
  const bool runs_here_;
  Clock::time_point last_progress_ = Clock::now();  // under the task's lock, as frame() is
  std::atomic<std::size_t> tokens_{0};
  std::atomic<bool> warned_{false};
};

SharedTasks::SharedTasks(SharedTasksConfig config, Scheduler& scheduler,
                         OrchestratorMetrics& metrics)
    : config_(std::move(config)), scheduler_(scheduler), metrics_(metrics) {
  config_.state.client_name = "llorch orchestrator " + config_.replica_id;
  link_ = std::make_shared<state::NatsLink>(config_.state);
  records_ = std::make_unique<state::NatsBucket>(link_, kRecords, config_.retention);
  replicas_ = std::make_unique<state::NatsBucket>(link_, kReplicas, config_.state.registry_ttl);
  queue_ = std::make_unique<state::TaskQueue>(link_, config_.queue_size);
  events_ = std::make_unique<state::EventLog>(link_, config_.retention);
  cancels_ = state::NatsSubscription::core(
      link_, cancel_subject(config_.replica_id), [this](natsMsg* message) {
        const std::string_view text = state::payload(message);
        const auto newline = text.find('\n');
        const std::string id(text.substr(0, newline));
        const std::string why(newline == std::string_view::npos ? "" : text.substr(newline + 1));
        scheduler_.cancel(id, why.empty() ? "a cancel from another replica" : why);
      });
  replicas_->put(config_.replica_id, Json{{"replica", config_.replica_id}}.dump());
  scheduler_.set_on_capacity([this] {
    // Under the scheduler's lock: only a flag and a wake-up.
    std::lock_guard lock(mutex_);
    capacity_changed_ = true;
    wake_.notify_all();
  });
  scheduler_.set_cancel_elsewhere(
      [this](const std::string& id, const std::string& why) { return cancel(id, why); });
  n::info(n::actor::orchestrator, n::action::server_start)
      .target(config_.state.url)
      .human(
          "Replica {} shares its tasks on NATS at {}: queue of {}, events and records kept {} "
          "s on {} server{}; a replica silent for {} ms is taken over",
          config_.replica_id, config_.state.url, config_.queue_size, config_.retention.count(),
          config_.state.replicas, config_.state.replicas == 1 ? "" : "s",
          config_.state.registry_ttl.count())
      .cute("Joining the choir as {} 🎶", config_.replica_id)
      .emit();
  indexer_ = std::thread([this] { index_loop(); });
  dispatcher_ = std::thread([this] { dispatch_loop(); });
  upkeep_ = std::thread([this] { upkeep_loop(); });
}

SharedTasks::~SharedTasks() {
  stop();
}

void SharedTasks::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !dispatcher_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  if (upkeep_.joinable()) upkeep_.join();
  if (indexer_.joinable()) indexer_.join();
  scheduler_.set_on_capacity(nullptr);
  scheduler_.set_cancel_elsewhere(nullptr);
  record_writer_.join();
  cancels_.reset();
  {
    std::lock_guard lock(mirrors_mutex_);
    mirrors_.clear();
  }
  try {
    // The others need not wait for the entry to expire: nothing of this replica's is left.
    replicas_->remove(config_.replica_id);
  } catch (const std::exception&) {
    // The entry expires on its own.
  }
}

bool SharedTasks::wait_for_capacity(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, d, [this] { return stopping_ || !taking_ || capacity_changed_; });
  capacity_changed_ = false;
  return stopping_ || !taking_;
}

void SharedTasks::requeue(const std::string& id) {
  // A fresh de-duplication key: the server would drop a second push under the task's own id.
  queue_->push(id, id + "@" + n::generate_uuid_v4());
}

bool SharedTasks::unclaim(const std::string& id) {
  return modify(id,
                [&](TaskRecord& r) {
                  if (r.replica != config_.replica_id || r.state != "claimed") return false;
                  r.state = "queued";
                  r.replica.clear();
                  return true;
                })
      .has_value();
}

void SharedTasks::hand_back_queued() {
  {
    std::lock_guard lock(mutex_);
    taking_ = false;
  }
  wake_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (const auto& task : scheduler_.release_unstarted(std::chrono::milliseconds(3000))) {
    if (!unclaim(task->id())) continue;
    {
      n::RequestScope scope(task->context());
      n::info(n::actor::orchestrator, n::action::task_queued)
          .target(task->id())
          .human(
              "Replica {} is stopping before task {} reached a worker; back in the shared "
              "queue for another replica",
              config_.replica_id, task->id())
          .cute("Passing this one on 🔁")
          .emit();
    }
    try {
      requeue(task->id());
    } catch (const std::exception& e) {
      // Its record says queued: the queue timeout ends it, narrated, if nobody takes it.
      n::error(n::actor::orchestrator, n::action::task_queued)
          .target(task->id())
          .human("Cannot put task {} back in the shared queue: {}", task->id(), e.what())
          .error_kind("STATE_UNAVAILABLE")
          .emit();
    }
  }
}

bool SharedTasks::wait_unless_stopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, d, [this] { return stopping_; });
}

Scheduler::Admission SharedTasks::admit(const std::shared_ptr<Task>& task) {
  return on_state([&] {
    Scheduler::Admission a{false, 0, 0, config_.queue_size, {}};
    a.unavailable = scheduler_.unavailable(task->spec().model);
    if (!a.unavailable.empty()) return a;
    a.waiting = queue_->waiting();
    if (a.waiting >= config_.queue_size) return a;
    if (!records_->create(task->id(), to_json(record_of(*task))))
      throw StateUnavailable("task id " + task->id() + " exists already in the shared state");
    task->set_observer(std::make_shared<Writer>(*this, false));
    {
      n::RequestScope scope(task->context());
      const auto& r = task->spec().request;
      n::info(n::actor::orchestrator, n::action::task_admitted)
          .target(task->id())
          .human("Task {} admitted by replica {} ({} max tokens{})", task->id(), config_.replica_id,
                 r.max_tokens, task->spec().model.empty() ? "" : ", model " + task->spec().model)
          .cute("Your request is in! 🎟️")
          .emit();
      n::info(n::actor::orchestrator, n::action::task_queued)
          .target(task->id())
          .human(
              "Queued in the shared queue at position {} ({} of {} places taken); the first "
              "replica with a free worker takes it",
              a.waiting + 1, a.waiting + 1, config_.queue_size)
          .cute("Waiting in line: spot {} ⏳", a.waiting + 1)
          .queue_position(static_cast<std::int64_t>(a.waiting + 1))
          .emit();
    }
    // Its events stored before anyone can take it: whoever does writes after them.
    try {
      events_->flush(std::chrono::milliseconds(2000));
    } catch (const std::exception&) {
      records_->remove(task->id());
      throw;
    }
    if (!queue_->push(task->id(), task->id())) {
      records_->remove(task->id());
      a.waiting = config_.queue_size;
      return a;
    }
    a.admitted = true;
    a.position = a.waiting + 1;
    a.waiting = a.position;
    return a;
  });
}

std::optional<TaskRecord> SharedTasks::find(const std::string& id) {
  return on_state([&]() -> std::optional<TaskRecord> {
    const auto entry = records_->get(id);
    if (!entry) return std::nullopt;
    return parse_record(entry->value);
  });
}

std::shared_ptr<Task> SharedTasks::follow(const TaskRecord& record) {
  return on_state([&] {
    std::lock_guard lock(mirrors_mutex_);
    if (const auto it = mirrors_.find(record.id); it != mirrors_.end()) {
      if (auto mirror = it->second.task.lock()) return mirror;
    }
    auto mirror = Task::create(record.id, record.correlation_id, record.traceparent,
                               spec_of(record), nullptr);
    auto feed = events_->follow(
        record.id, [weak = std::weak_ptr<Task>(mirror)](std::string type, std::string data) {
          if (auto m = weak.lock()) m->push(std::move(type), std::move(data));
        });
    mirrors_[record.id] = {mirror, std::move(feed)};
    return mirror;
  });
}

void SharedTasks::sweep_mirrors() {
  std::vector<std::unique_ptr<state::NatsSubscription>> done;
  {
    std::lock_guard lock(mirrors_mutex_);
    for (auto it = mirrors_.begin(); it != mirrors_.end();) {
      const auto mirror = it->second.task.lock();
      if (mirror && !mirror->ended()) {
        ++it;
        continue;
      }
      done.push_back(std::move(it->second.feed));
      it = mirrors_.erase(it);
    }
  }
  // Destroyed outside the lock: a delivery running now may be waiting for it.
}

std::shared_ptr<Task> SharedTasks::narrator_for(const TaskRecord& record) {
  auto task =
      Task::create(record.id, record.correlation_id, record.traceparent, spec_of(record), nullptr);
  task->set_observer(std::make_shared<Writer>(*this, false));
  return task;
}

std::optional<TaskRecord> SharedTasks::modify(const std::string& id,
                                              const std::function<bool(TaskRecord&)>& change,
                                              Quietly quietly) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    try {
      const auto entry = records_->get(id);
      if (!entry) return std::nullopt;
      auto record = parse_record(entry->value);
      if (!record || !change(*record)) return std::nullopt;
      if (records_->update(id, to_json(*record), entry->revision)) return record;
    } catch (const std::exception& e) {
      if (quietly == Quietly::yes) return std::nullopt;
      n::error(n::actor::orchestrator, n::action::error)
          .target(id)
          .human("Cannot update the record of task {}: {}", id, e.what())
          .error_kind("STATE_UNAVAILABLE")
          .emit();
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Scheduler::CancelResult SharedTasks::cancel(const std::string& id, const std::string& why) {
  return on_state([&] {
    std::string outcome;  // "queued" (ended here), "ended", or the replica holding it
    const auto record = modify(id, [&](TaskRecord& r) {
      if (r.ended()) {
        outcome = "ended";
        return false;
      }
      if (r.state != "queued") {
        outcome = r.replica;
        return false;
      }
      // Still in the shared queue: whoever takes it finds it cancelled and drops it.
      outcome = "queued";
      r.state = "cancelled";
      r.stop_reason = "CANCELLED";
      r.replica = config_.replica_id;
      return true;
    });
    if (outcome.empty()) return Scheduler::CancelResult::not_found;
    if (outcome == "ended") return Scheduler::CancelResult::already_ended;
    if (outcome == "queued" && record) {
      const auto task = narrator_for(*record);
      n::RequestScope scope(task->context());
      n::info(n::actor::orchestrator, n::action::task_cancelled)
          .target(id)
          .human("Cancelling task {} in the shared queue: {}", id, why)
          .cute("Stopping {} — {} 🛑", id, why)
          .emit();
      task->push("end", api::end_event(0, 0.0, "CANCELLED", record->correlation_id));
      return Scheduler::CancelResult::cancelled;
    }
    link_->publish(cancel_subject(outcome), id + "\n" + why);
    return Scheduler::CancelResult::cancelled;
  });
}

void SharedTasks::dispatch_loop() {
  LastProblem problem;
  while (!wait_for_capacity(0ms)) {
    if (!scheduler_.has_free_slot()) {
      if (wait_for_capacity(250ms)) return;
      continue;
    }
    try {
      const auto taken = queue_->take(500ms);
      problem.clear();
      if (!taken) continue;
      bool acknowledge = true;
      claim(taken->task_id(), acknowledge);
      if (acknowledge) {
        taken->done();
      } else {
        taken->later(200ms);
      }
    } catch (const std::exception& e) {
      if (problem.news(e.what())) {
        n::error(n::actor::orchestrator, n::action::task_claimed)
            .target(config_.state.url)
            .human("Cannot take tasks from the shared queue: {}; retrying every second", e.what())
            .error_kind("STATE_UNAVAILABLE")
            .emit();
      }
      if (wait_unless_stopping(1000ms)) return;
    }
  }
}

void SharedTasks::claim(const std::string& id, bool& acknowledge) {
  bool waiting = false;  // a record still queued: ours now, or not ours to take
  const auto record = modify(id, [&](TaskRecord& r) {
    waiting = r.state == "queued";
    if (!waiting) return false;  // cancelled while it waited, or handed out twice
    r.state = "claimed";
    r.replica = config_.replica_id;
    return true;
  });
  if (!record) {
    // Cancelled, gone, or the state is out of reach (then it comes back after the ack wait).
    acknowledge = !waiting;
    return;
  }
  auto task = Task::create(record->id, record->correlation_id, record->traceparent,
                           spec_of(*record), &metrics_);
  task->set_observer(std::make_shared<Writer>(*this, true));
  {
    n::RequestScope scope(task->context());
    n::info(n::actor::orchestrator, n::action::task_claimed)
        .target(id)
        .human("Replica {} took task {} from the shared queue after {} ms", config_.replica_id, id,
               record->age_ms())
        .cute("{} has it from here 🤝", config_.replica_id)
        .emit();
  }
  if (scheduler_.take(task)) return;
  // Stopping: back to the queue for another replica.
  acknowledge = true;
  if (unclaim(id)) requeue(id);
}

void SharedTasks::upkeep_loop() {
  // Heartbeats well inside the entry's life: a third of it, at most a second.
  const auto every = std::min<std::chrono::milliseconds>(config_.state.registry_ttl / 3, 1000ms);
  LastProblem problem;
  do {
    try {
      replicas_->put(config_.replica_id, Json{{"replica", config_.replica_id}}.dump());
      std::set<std::string> alive;
      for (const auto& [key, value] : replicas_->entries()) alive.insert(key);
      adopt_orphans(alive);
      expire_queued();
      problem.clear();
    } catch (const std::exception& e) {
      if (problem.news(e.what())) {
        n::error(n::actor::orchestrator, n::action::replica_lost)
            .target(config_.state.url)
            .human("Cannot keep replica {} alive on NATS: {}; retrying", config_.replica_id,
                   e.what())
            .error_kind("STATE_UNAVAILABLE")
            .emit();
      }
    }
    sweep_mirrors();
  } while (!wait_unless_stopping(every));
}

void SharedTasks::adopt_orphans(const std::set<std::string>& alive) {
  std::vector<std::string> orphans;
  {
    std::lock_guard lock(index_mutex_);
    for (const auto& [id, record] : index_) {
      if ((record.state == "claimed" || record.state == "running") &&
          !alive.contains(record.replica))
        orphans.push_back(id);
    }
  }
  // Each read again and changed by compare-and-set: the index may lag, and another replica
  // may be taking over the same task.
  for (const auto& id : orphans) take_over(id, alive);
}

void SharedTasks::index_loop() {
  LastProblem problem;
  while (!wait_unless_stopping(0ms)) {
    try {
      const auto change = records_->next_change(250ms);
      problem.clear();
      if (!change) continue;
      std::lock_guard lock(index_mutex_);
      if (change->deleted) {
        index_.erase(change->key);
      } else if (auto record = parse_record(change->value)) {
        index_[change->key] = std::move(*record);
      }
    } catch (const std::exception& e) {
      if (problem.news(e.what())) {
        n::error(n::actor::orchestrator, n::action::error)
            .target(config_.state.url)
            .human("Cannot follow the task records: {}; retrying every second", e.what())
            .error_kind("STATE_UNAVAILABLE")
            .emit();
      }
      if (wait_unless_stopping(1000ms)) return;
    }
  }
}

std::vector<const TaskRecord*> SharedTasks::queued_locked() const {
  std::vector<const TaskRecord*> queued;
  for (const auto& [id, record] : index_)
    if (record.state == "queued") queued.push_back(&record);
  std::sort(queued.begin(), queued.end(),
            [](const auto* a, const auto* b) { return a->created_ms < b->created_ms; });
  return queued;
}

void SharedTasks::expire_queued() {
  const auto retention_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.retention).count();
  std::vector<std::string> late;
  {
    std::lock_guard lock(index_mutex_);
    for (auto it = index_.begin(); it != index_.end();) {
      const auto age = it->second.age_ms();
      if (age > retention_ms) {
        it = index_.erase(it);  // expired from the bucket too
        continue;
      }
      if (it->second.state == "queued" && age > config_.queue_timeout.count())
        late.push_back(it->first);
      ++it;
    }
  }
  for (const auto& id : late) {
    const auto record = modify(id, [&](TaskRecord& r) {
      if (r.state != "queued" || r.age_ms() <= config_.queue_timeout.count()) return false;
      r.state = "failed";
      r.error_code = "QUEUE_TIMEOUT";
      r.error_message = fmt::format(
          "waited {} s in the shared queue and no replica took it (--queue-timeout); no replica "
          "had a free worker for it",
          config_.queue_timeout.count() / 1000);
      r.replica = config_.replica_id;
      return true;
    });
    if (!record) continue;
    const auto task = narrator_for(*record);
    n::RequestScope scope(task->context());
    n::error(n::actor::orchestrator, n::action::task_rejected)
        .target(id)
        .human("Task {} ends without running: {}", id, record->error_message)
        .cute("Couldn't find anyone to do this one 😞 {}", record->error_message)
        .error_kind("QUEUE_TIMEOUT")
        .emit();
    task->push("error",
               api::error_event("QUEUE_TIMEOUT", record->error_message, record->correlation_id));
  }
}

nlohmann::ordered_json SharedTasks::describe_task(const TaskRecord& record) const {
  Json j = describe(record);
  if (record.state != "queued") return j;
  std::lock_guard lock(index_mutex_);
  const auto queued = queued_locked();
  for (std::size_t i = 0; i < queued.size(); ++i)
    if (queued[i]->id == record.id) j["queue_position"] = i + 1;
  return j;
}

nlohmann::ordered_json SharedTasks::tasks_json(const std::string& owner, bool everyone,
                                               std::size_t ended_limit) const {
  std::lock_guard lock(index_mutex_);
  const auto visible = [&](const TaskRecord& r) { return everyone || r.owner == owner; };
  Json out = Json::array();
  const auto queued = queued_locked();
  for (std::size_t i = 0; i < queued.size(); ++i) {
    if (!visible(*queued[i])) continue;
    Json j = describe(*queued[i]);
    j["queue_position"] = i + 1;
    out.push_back(std::move(j));
  }
  std::vector<const TaskRecord*> others;
  for (const auto& [id, record] : index_)
    if (record.state != "queued" && visible(record)) others.push_back(&record);
  std::sort(others.begin(), others.end(),
            [](const auto* a, const auto* b) { return a->created_ms > b->created_ms; });
  std::size_t ended = 0;
  for (const auto* r : others) {
    if (r->ended() && ended++ >= ended_limit) continue;
    out.push_back(describe(*r));
  }
  return out;
}

void SharedTasks::take_over(const std::string& id, const std::set<std::string>& alive) {
  std::string dead;
  std::string was;
  const auto record = modify(id, [&](TaskRecord& r) {
    if ((r.state != "claimed" && r.state != "running") || alive.contains(r.replica)) return false;
    dead = r.replica;
    was = r.state;
    if (r.state == "claimed") {
      r.state = "queued";  // it never reached a worker: another replica runs it
      r.replica.clear();
    } else {
      r.state = "failed";
      r.error_code = "ORCHESTRATOR_LOST";
      r.replica = config_.replica_id;
    }
    return true;
  });
  if (!record) return;  // another replica came first, or it ended meanwhile
  const auto task = narrator_for(*record);
  n::RequestScope scope(task->context());
  if (was == "claimed") {
    n::warn(n::actor::orchestrator, n::action::replica_lost)
        .target(id)
        .human(
            "Replica {} stopped (no heartbeat for {} ms) before task {} reached a worker; "
            "replica {} put it back in the shared queue",
            dead, config_.state.registry_ttl.count(), id, config_.replica_id)
        .cute("{} dropped it; back in line it goes 🔁", dead)
        .error_kind("ORCHESTRATOR_LOST")
        .emit();
    requeue(id);
    return;
  }
  // It was streaming through the dead replica: nobody relays the worker's stream any more.
  // Stop the worker (or it runs on for nobody) and end the stream here, saying why.
  bool stopped = false;
  if (const auto where = scheduler_.placement_of(record->pool_id, record->worker_id))
    stopped = cancel_on_worker(*where, id, record->correlation_id);
  const std::string message = fmt::format(
      "orchestrator replica {}, which relayed this task from {}, stopped (no heartbeat for {} ms); "
      "{}; send the request again",
      dead, record->worker_id, config_.state.registry_ttl.count(),
      stopped ? "the task was cancelled on its worker" : "its worker no longer runs it");
  n::error(n::actor::orchestrator, n::action::replica_lost)
      .target(id)
      .human("Task {} ends: {} (taken over by replica {})", id, message, config_.replica_id)
      .cute("{} went quiet mid-story 😶 {}", dead, message)
      .worker_id(record->worker_id)
      .pool_id(record->pool_id)
      .error_kind("ORCHESTRATOR_LOST")
      .emit();
  task->push("error", api::error_event("ORCHESTRATOR_LOST", message, record->correlation_id));
  modify(id, [&](TaskRecord& r) {
    if (r.replica != config_.replica_id) return false;
    r.error_message = message;
    return true;
  });
}

}  // namespace llorch::orchestrator
