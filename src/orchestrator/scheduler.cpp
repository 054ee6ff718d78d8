#include "orchestrator/scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "api/stream_events.hpp"
#include "narration/narrate.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;
using Json = nlohmann::ordered_json;

namespace {

// How long the stream of a task whose pool left the registry may stay silent before the task is
// ended: a streaming worker sends tokens every few milliseconds and prompt progress every second.
constexpr std::chrono::milliseconds kSilenceWithoutPool{1500};

std::int64_t ms_since(Clock::time_point from) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - from).count();
}

std::string orchestrator_error(const Task& task, std::string_view code, std::string_view message) {
  return api::error_event(code, message, task.correlation_id());
}

// Why a task for `model` cannot run (every worker for it failed: `why`), and the fix.
std::string unavailable_message(const std::string& model, const std::string& why) {
  return fmt::format(
      "no worker can serve {}: {}. Fix the model file or the worker settings, then start its "
      "workers again (restart llorch serve, or DELETE and POST /v1/workers on its pool)",
      model.empty() ? "this task" : "model \"" + model + "\"", why);
}

// A task that ends before any worker took it still ends like every stream: one terminal event.
void end_unstarted(Task& task) {
  task.push("end", api::end_event(0, 0.0, "CANCELLED", task.correlation_id()));
}

}  // namespace

Scheduler::Scheduler(SchedulerConfig config, OrchestratorMetrics& metrics)
    : config_(config), metrics_(metrics) {}

Scheduler::~Scheduler() {
  shutdown(std::chrono::milliseconds(5000));
  helpers_.join();
}

Scheduler::Admission Scheduler::admit(const std::shared_ptr<Task>& task) {
  reap_relays();
  std::lock_guard lock(mutex_);
  Admission a{false, 0, queue_.size(), config_.queue_size, {}};
  if (stopping_ || queue_.size() >= config_.queue_size) return a;
  if (const std::string why = registry_.why_unservable(task->spec().model); !why.empty()) {
    a.unavailable = unavailable_message(task->spec().model, why);
    return a;
  }
  tasks_[task->id()] = task;
  queue_.push_back(task);
  a.admitted = true;
  a.position = queue_.size();
  a.waiting = queue_.size();
  metrics_.set_queue_length(queue_.size());
  {
    n::RequestScope scope(task->context());
    const auto& r = task->spec().request;
    n::info(n::actor::orchestrator, n::action::task_admitted)
        .target(task->id())
        .human("Task {} admitted ({} max tokens{})", task->id(), r.max_tokens,
               task->spec().model.empty() ? "" : ", model " + task->spec().model)
        .cute("Your request is in! 🎟️")
        .emit();
    n::info(n::actor::orchestrator, n::action::task_queued)
        .target(task->id())
        .human("Queued at position {} ({} ahead; {} of {} places taken)", a.position,
               a.position - 1, a.waiting, config_.queue_size)
        .cute("Waiting in line: spot {} ⏳", a.position)
        .queue_position(static_cast<std::int64_t>(a.position))
        .emit();
  }
  dispatch_locked();
  if (task->state() != TaskState::queued) a.position = 0;
  return a;
}

bool Scheduler::take(const std::shared_ptr<Task>& task) {
  reap_relays();
  std::lock_guard lock(mutex_);
  if (stopping_ || releasing_) return false;
  tasks_[task->id()] = task;
  queue_.push_back(task);
  metrics_.set_queue_length(queue_.size());
  dispatch_locked();
  return true;
}

std::vector<std::shared_ptr<Task>> Scheduler::release_unstarted(
    std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  releasing_ = true;
  // A refused attempt puts its task back in the queue (after_relay) before its relay leaves.
  relays_done_.wait_for(lock, patience, [&] {
    return std::ranges::all_of(relays_, [&](const auto& relay) {
      const auto task = tasks_.find(relay.first);
      return task == tasks_.end() || task->second->accepted.load();
    });
  });
  std::vector<std::shared_ptr<Task>> released(queue_.begin(), queue_.end());
  queue_.clear();
  for (const auto& task : released) tasks_.erase(task->id());
  metrics_.set_queue_length(0);
  return released;
}

bool Scheduler::has_free_slot() const {
  std::lock_guard lock(mutex_);
  if (stopping_ || releasing_ || !queue_.empty()) return false;
  return registry_.has_free_slot("");
}

void Scheduler::set_on_capacity(std::function<void()> on_capacity) {
  std::lock_guard lock(mutex_);
  on_capacity_ = std::move(on_capacity);
}

void Scheduler::set_cancel_elsewhere(CancelElsewhere elsewhere) {
  std::lock_guard lock(mutex_);
  cancel_elsewhere_ = std::move(elsewhere);
}

std::optional<Placement> Scheduler::placement_of(const std::string& pool_id,
                                                 const std::string& worker_id) const {
  std::lock_guard lock(mutex_);
  const auto& pools = registry_.pools();
  const auto pool = pools.find(pool_id);
  if (pool == pools.end()) return std::nullopt;
  for (const auto& w : pool->second.workers)
    if (w.id == worker_id) return placement_locked(pool->second, w);
  return std::nullopt;
}

Placement Scheduler::placement_locked(const PoolEntry& pool, const WorkerEntry& worker) const {
  return {pool.id, pool.url, worker.id, worker.url, worker.secret, config_.pool_api_token};
}

void Scheduler::dispatch_locked() {
  // Oldest first, but a task no worker can take now never holds up one behind it that a worker
  // can (another model's): each model's tasks keep their order among themselves.
  bool moved = false;
  for (auto it = queue_.begin(); !stopping_ && !releasing_ && it != queue_.end();) {
    const auto task = *it;
    PoolEntry* pool = nullptr;
    if (WorkerEntry* worker = registry_.pick(task->spec().model, &pool)) {
      it = queue_.erase(it);
      start_relay_locked(task, *pool, *worker);
      moved = true;
      continue;
    }
    // Every worker for its model has failed (its pool will not restart it): waiting is futile.
    if (const std::string why = registry_.why_unservable(task->spec().model); !why.empty()) {
      it = queue_.erase(it);
      fail_queued_locked(task, "MODEL_UNAVAILABLE", unavailable_message(task->spec().model, why));
      moved = true;
      continue;
    }
    ++it;
  }
  metrics_.set_queue_length(queue_.size());
  if (moved) narrate_positions_locked();
  if (on_capacity_ && queue_.empty()) on_capacity_();
}

void Scheduler::fail_queued_locked(const std::shared_ptr<Task>& task, std::string_view code,
                                   const std::string& message) {
  {
    n::RequestScope scope(task->context());
    n::error(n::actor::orchestrator, n::action::task_rejected)
        .target(task->id())
        .human("Task {} ends without running: {}", task->id(), message)
        .cute("Couldn't find anyone to do this one 😞 {}", message)
        .error_kind(std::string(code))
        .emit();
  }
  task->push("error", orchestrator_error(*task, code, message));
  retire_locked(task);
}

void Scheduler::expire_queued() {
  std::lock_guard lock(mutex_);
  bool moved = false;
  for (auto it = queue_.begin(); it != queue_.end();) {
    const auto task = *it;
    if (Clock::now() - task->admitted_at() < config_.queue_timeout) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
    fail_queued_locked(
        task, "QUEUE_TIMEOUT",
        fmt::format("waited {} s in the queue and no worker took it (--queue-timeout); {}",
                    config_.queue_timeout.count() / 1000,
                    registry_.has_workers() ? "every worker that can serve it stayed busy"
                                            : "no worker is registered"));
    moved = true;
  }
  if (moved) {
    metrics_.set_queue_length(queue_.size());
    narrate_positions_locked();
  }
  // A worker skipped for a moment (busy, unreachable) may be free again with no news to say so.
  dispatch_locked();
}

void Scheduler::start_relay_locked(const std::shared_ptr<Task>& task, PoolEntry& pool,
                                   WorkerEntry& worker) {
  ++worker.in_use;
  ++running_;
  const Placement where = placement_locked(pool, worker);
  task->set_running(where);
  {
    n::RequestScope scope(task->context());
    n::info(n::actor::orchestrator, n::action::task_dispatched)
        .target(task->id())
        .human("Dispatched to {} of pool {} after {} ms in the queue (slot {} of {})", worker.id,
               pool.id, ms_since(task->admitted_at()), worker.in_use, worker.slots)
        .cute("Off to {} we go! 📮", worker.id)
        .worker_id(worker.id)
        .pool_id(pool.id)
        .duration_ms(ms_since(task->admitted_at()))
        .emit();
  }
  // A relay that ended earlier under the same id (a retry) has been joined by then or is about to
  // be: keep its handle until it is.
  if (auto old = relays_.find(task->id()); old != relays_.end()) {
    ended_relays_.push_back(std::move(old->second));
    relays_.erase(old);
  }
  relays_[task->id()] = std::thread([this, task, where] { run_relay(task, where); });
}

void Scheduler::run_relay(std::shared_ptr<Task> task, Placement where) {
  {
    n::RequestScope scope(task->context());
    n::info(n::actor::orchestrator, n::action::task_relaying)
        .target(task->id())
        .human("Relaying the stream of {} from {}", where.worker_id, where.worker_url)
        .cute("Listening closely to {} 👂", where.worker_id)
        .worker_id(where.worker_id)
        .emit();
  }
  RelayResult result;
  try {
    result = relay_to_worker(*task, where);
  } catch (const std::exception& e) {
    // Never let one stream take the process down: the task ends with an error event.
    result = {task->ended() ? RelayOutcome::finished : RelayOutcome::lost,
              fmt::format("the relay failed: {}", e.what())};
  }
  after_relay(task, where, result);
}

void Scheduler::after_relay(const std::shared_ptr<Task>& task, const Placement& where,
                            const RelayResult& result) {
  n::RequestScope scope(task->context());
  bool retry = false;
  switch (result.outcome) {
    case RelayOutcome::finished:
    case RelayOutcome::rejected:
      break;
    case RelayOutcome::abandoned:
      if (!task->ended()) end_unstarted(*task);
      break;
    case RelayOutcome::busy:
    case RelayOutcome::refused:
    case RelayOutcome::unreachable: {
      // A worker whose slots are all busy is alive and serving others (another orchestrator, or
      // another replica, counts its own tasks against the same slots): the task waits for a slot
      // as it would in the queue, and only --queue-timeout bounds that. Anything else is an
      // attempt that failed.
      const bool busy = result.outcome == RelayOutcome::busy;
      const int attempt = busy ? task->attempts : ++task->attempts;
      retry = (busy || attempt < config_.max_attempts) && !task->cancel_requested.load();
      n::warn(n::actor::orchestrator, n::action::task_dispatched)
          .target(task->id())
          .human("{} could not take the task ({}); {}", where.worker_id, result.problem,
                 busy    ? std::string("waiting for a free slot")
                 : retry ? fmt::format("placing it again (attempt {} of {})", attempt + 1,
                                       config_.max_attempts)
                         : std::string("giving up"))
          .worker_id(where.worker_id)
          .attempt(attempt)
          .error_kind(result.outcome == RelayOutcome::unreachable ? "WORKER_UNREACHABLE"
                                                                  : "WORKER_REFUSED")
          .emit();
      if (!retry && task->cancel_requested.load()) {
        end_unstarted(*task);
      } else if (!retry) {
        task->push("error", orchestrator_error(
                                *task, "WORKER_UNAVAILABLE",
                                fmt::format("no worker could take the task after {} attempts; "
                                            "last: {} ({})",
                                            attempt, where.worker_id, result.problem)));
      }
      break;
    }
    case RelayOutcome::lost: {
      // Never a silent end: say which worker went away and why, as its pool manager saw it (or
      // why its pool is gone).
      std::string cause = task->abandoned_because();
      if (cause.empty()) cause = crash_report(where, std::chrono::milliseconds(3000));
      if (cause.empty()) cause = result.problem;
      n::error(n::actor::orchestrator, n::action::worker_lost)
          .target(task->id())
          .human("Lost {} mid-stream: {}", where.worker_id, cause)
          .cute("Oh no, {} vanished mid-sentence! 💥 {}", where.worker_id, cause)
          .worker_id(where.worker_id)
          .pool_id(where.pool_id)
          .error_kind("WORKER_LOST")
          .emit();
      task->push("error", orchestrator_error(*task, "WORKER_LOST",
                                             fmt::format("worker {} stopped before finishing: {}",
                                                         where.worker_id, cause)));
      break;
    }
  }

  std::lock_guard lock(mutex_);
  release_slot_locked(where);
  if (result.outcome == RelayOutcome::busy || result.outcome == RelayOutcome::refused ||
      result.outcome == RelayOutcome::unreachable) {
    // A busy worker is asked again soon; one that failed otherwise, after a second.
    const auto pause = result.outcome == RelayOutcome::busy ? std::chrono::milliseconds(200)
                                                            : std::chrono::milliseconds(1000);
    if (WorkerEntry* w = registry_.find(where.pool_id, where.worker_id))
      w->shunned_until = Clock::now() + pause;
  }
  if (retry && !stopping_) {
    task->set_queued();
    queue_.push_front(task);
  } else if (retry) {
    task->push("error", orchestrator_error(*task, "SHUTTING_DOWN",
                                           "the orchestrator is shutting down; retry elsewhere"));
  }
  if (task->ended()) {
    retire_locked(task);
    n::info(n::actor::orchestrator, n::action::task_finished)
        .target(task->id())
        .human("Task {} {} after {} ms", task->id(), to_string(task->state()),
               ms_since(task->admitted_at()))
        .duration_ms(ms_since(task->admitted_at()))
        .emit();
  }
  if (auto self = relays_.find(task->id()); self != relays_.end()) {
    ended_relays_.push_back(std::move(self->second));
    relays_.erase(self);
  }
  dispatch_locked();
  relays_done_.notify_all();
}

void Scheduler::release_slot_locked(const Placement& where) {
  --running_;
  if (WorkerEntry* w = registry_.find(where.pool_id, where.worker_id); w && w->in_use > 0)
    --w->in_use;
}

void Scheduler::narrate_positions_locked() {
  for (std::size_t i = 0; i < queue_.size(); ++i) {
    n::RequestScope scope(queue_[i]->context());
    n::info(n::actor::orchestrator, n::action::task_queued)
        .target(queue_[i]->id())
        .human("Moved up to position {} of {} in the queue", i + 1, queue_.size())
        .cute("Inching forward: spot {} 🐢", i + 1)
        .queue_position(static_cast<std::int64_t>(i + 1))
        .emit();
  }
}

void Scheduler::retire_locked(const std::shared_ptr<Task>& task) {
  finished_.push_back(task->id());
  while (finished_.size() > config_.retained_tasks) {
    tasks_.erase(finished_.front());
    finished_.pop_front();
  }
}

void Scheduler::reap_relays() {
  std::vector<std::thread> ended;
  {
    std::lock_guard lock(mutex_);
    ended.swap(ended_relays_);
  }
  for (auto& t : ended)
    if (t.joinable()) t.join();
}

std::shared_ptr<Task> Scheduler::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second;
}

std::size_t Scheduler::queue_position(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < queue_.size(); ++i)
    if (queue_[i]->id() == id) return i + 1;
  return 0;
}

Scheduler::CancelResult Scheduler::cancel(const std::string& id, const std::string& why) {
  std::unique_lock lock(mutex_);
  const auto it = tasks_.find(id);
  if (it == tasks_.end()) {
    const auto elsewhere = cancel_elsewhere_;
    lock.unlock();
    return elsewhere ? elsewhere(id, why) : CancelResult::not_found;
  }
  const auto task = it->second;
  if (task->ended() || task->cancel_requested.exchange(true)) return CancelResult::already_ended;
  n::RequestScope scope(task->context());
  n::info(n::actor::orchestrator, n::action::task_cancelled)
      .target(id)
      .human("Cancelling task {}: {}", id, why)
      .cute("Stopping {} — {} 🛑", id, why)
      .emit();
  for (auto q = queue_.begin(); q != queue_.end(); ++q) {
    if ((*q)->id() != id) continue;
    queue_.erase(q);
    end_unstarted(*task);
    retire_locked(task);
    metrics_.set_queue_length(queue_.size());
    narrate_positions_locked();
    return CancelResult::cancelled;
  }
  // Running: the worker ends the stream with CANCELLED, which the relay passes on.
  // The worker may not know the job yet (its stream is still starting): ask again, briefly.
  boost::asio::post(helpers_, [task, where = task->placement()] {
    for (int attempt = 0; attempt < 10 && !task->ended(); ++attempt) {
      if (cancel_on_worker(where, task->id(), task->correlation_id())) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  return CancelResult::cancelled;
}

void Scheduler::reader_left(const std::shared_ptr<Task>& task) {
  if (!task->spec().cancel_on_disconnect || task->subscribers() > 0 || task->ended()) return;
  cancel(task->id(), "the client disconnected");
}

void Scheduler::update_pool(PoolReport report, bool registered) {
  std::lock_guard lock(mutex_);
  registry_.update(std::move(report), registered);
  dispatch_locked();
}

bool Scheduler::heartbeat(PoolReport report) {
  std::lock_guard lock(mutex_);
  if (!registry_.contains(report.pool_id)) return false;
  registry_.update(std::move(report), true);
  dispatch_locked();
  return true;
}

bool Scheduler::forget_pool(const std::string& pool_id) {
  std::lock_guard lock(mutex_);
  return registry_.remove(pool_id);
}

void Scheduler::expire_pools() {
  std::lock_guard lock(mutex_);
  for (const auto& id : registry_.expire(Clock::now() - config_.pool_timeout)) {
    n::warn(n::actor::orchestrator, n::action::pool_deregister)
        .target(id)
        .human("Pool {} sent no heartbeat for {} ms; forgetting it until it registers again", id,
               config_.pool_timeout.count())
        .pool_id(id)
        .emit();
  }
  // A task whose pool is gone and whose stream went silent will not hear from its worker again
  // (the host is cut off, or died with its pool manager): end it now rather than at the relay's
  // read timeout. A worker still streaming keeps its task, pool or no pool.
  for (const auto& [id, task] : tasks_) {
    if (task->state() != TaskState::running) continue;
    const Placement where = task->placement();
    if (registry_.contains(where.pool_id)) continue;
    const auto silent = Clock::now() - task->last_frame_at();
    if (silent < kSilenceWithoutPool) continue;
    task->abandon_relay(fmt::format(
        "pool {} left the registry (it stopped heartbeating or said goodbye) and the stream of "
        "{} has been silent for {} ms",
        where.pool_id, where.worker_id,
        std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()));
  }
}

Json Scheduler::pools_json() const {
  std::lock_guard lock(mutex_);
  Json pools = Json::array();
  for (const auto& [id, pool] : registry_.pools()) {
    Json workers = Json::array();
    for (const auto& w : pool.workers) {
      workers.push_back(
          {{"id", w.id},
           {"state", w.state},
           {"url", w.url.empty() ? Json(nullptr) : Json(w.url)},
           {"model", w.model},
           {"slots", w.slots},
           {"slots_in_use", w.in_use},
           {"restarts", w.restarts},
           {"last_error", w.last_error.empty() ? Json(nullptr) : Json(w.last_error)}});
    }
    pools.push_back({{"pool_id", id},
                     {"url", pool.url},
                     {"registered", pool.registered},
                     {"last_seen_ms_ago", ms_since(pool.last_seen)},
                     {"workers", std::move(workers)}});
  }
  return pools;
}

std::vector<std::string> Scheduler::pool_urls() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> urls;
  for (const auto& [id, pool] : registry_.pools())
    if (!pool.url.empty()) urls.push_back(pool.url);
  return urls;
}

Json Scheduler::tasks_json(const std::string& owner, bool everyone, std::size_t ended_limit) const {
  std::vector<std::pair<std::shared_ptr<Task>, std::size_t>> queued;  // with the place in line
  std::vector<std::shared_ptr<Task>> others;
  {
    std::lock_guard lock(mutex_);
    const auto visible = [&](const std::shared_ptr<Task>& t) {
      return everyone || t->spec().owner == owner;
    };
    for (std::size_t i = 0; i < queue_.size(); ++i)
      if (visible(queue_[i])) queued.emplace_back(queue_[i], i + 1);
    for (const auto& [id, t] : tasks_)
      if (visible(t) && t->state() != TaskState::queued) others.push_back(t);
  }
  std::sort(others.begin(), others.end(),
            [](const auto& a, const auto& b) { return a->admitted_at() > b->admitted_at(); });
  Json out = Json::array();
  for (const auto& [task, position] : queued) out.push_back(task->describe(position));
  std::size_t ended = 0;
  for (const auto& t : others) {
    if (t->ended() && ended++ >= ended_limit) continue;
    out.push_back(t->describe(0));
  }
  return out;
}

std::vector<std::string> Scheduler::models() const {
  std::lock_guard lock(mutex_);
  return registry_.models();
}

long Scheduler::model_created(const std::string& id) const {
  std::lock_guard lock(mutex_);
  return registry_.created(id);
}

bool Scheduler::serves(const std::string& model) const {
  std::lock_guard lock(mutex_);
  return registry_.serves(model);
}

nlohmann::ordered_json Scheduler::problems() const {
  std::lock_guard lock(mutex_);
  Json out = Json::array();
  for (const auto& [pool_id, w] : registry_.problems()) {
    out.push_back(
        {{"pool_id", pool_id}, {"worker_id", w.id}, {"state", w.state}, {"reason", w.last_error}});
  }
  return out;
}

std::string Scheduler::why_unservable(const std::string& model) const {
  std::lock_guard lock(mutex_);
  return registry_.why_unservable(model);
}

std::string Scheduler::unavailable(const std::string& model) const {
  const std::string why = why_unservable(model);
  return why.empty() ? why : unavailable_message(model, why);
}

bool Scheduler::has_workers() const {
  std::lock_guard lock(mutex_);
  return registry_.has_workers();
}

Scheduler::Load Scheduler::load() const {
  std::lock_guard lock(mutex_);
  return {queue_.size(), running_, registry_.ready_workers(), registry_.pools().size()};
}

void Scheduler::shutdown(std::chrono::milliseconds patience) {
  std::vector<std::shared_ptr<Task>> running;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& task : queue_) {
      n::RequestScope scope(task->context());
      n::warn(n::actor::orchestrator, n::action::task_cancelled)
          .target(task->id())
          .human("The orchestrator is shutting down; task {} never started", task->id())
          .error_kind("SHUTTING_DOWN")
          .emit();
      task->push("error", orchestrator_error(*task, "SHUTTING_DOWN",
                                             "the orchestrator is shutting down before the task "
                                             "started; send it again when it is back"));
      retire_locked(task);
    }
    queue_.clear();
    metrics_.set_queue_length(0);
    for (const auto& [id, relay] : relays_) {
      if (const auto it = tasks_.find(id); it != tasks_.end()) running.push_back(it->second);
    }
  }
  for (const auto& task : running) cancel(task->id(), "the orchestrator is shutting down");
  {
    std::unique_lock lock(mutex_);
    relays_done_.wait_for(lock, patience, [&] { return relays_.empty(); });
    // Relays still stuck past the patience: their worker does not answer. Wait for their read
    // timeout rather than leave threads behind.
    for (auto& [id, relay] : relays_) ended_relays_.push_back(std::move(relay));
    relays_.clear();
  }
  reap_relays();
}

}  // namespace llorch::orchestrator
