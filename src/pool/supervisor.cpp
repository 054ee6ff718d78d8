#include "pool/supervisor.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>

#include "api/http_common.hpp"
#include "api/json_input.hpp"
#include "narration/json_line.hpp"
#include "narration/narrate.hpp"
#include "narration/secure_random.hpp"
#include "net/http_client.hpp"
#include "worker/worker_config.hpp"

namespace llorch::pool {

namespace n = llorch::narration;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Supervisor::Worker {
  explicit Worker(asio::io_context& io) : timer(io) {}

  std::string id;
  WorkerSpec spec;
  WorkerState state = WorkerState::starting;
  std::uint64_t generation = 0;  // one per process; events of an older process are ignored
  std::uint16_t port = 0;
  std::string token;   // bearer token of the current process's ready callback
  std::string secret;  // what the current process asks of callers of /execute, /cancel, /shutdown
  std::string url;
  std::unique_ptr<ChildProcess> child;
  int pid = 0;
  int restarts = 0;
  int crashes_in_a_row = 0;
  int bind_races = 0;  // ports lost to another process since it was last ready
  std::deque<Clock::time_point> crash_times;
  std::string last_error;
  std::string kill_reason;    // why we killed it, for the crash report
  std::string complaint;      // its last error-level narration ("unsupported architecture …")
  bool file_in_flux = false;  // restarted because its model file changed, not ready since
  std::size_t slots_busy = 0;
  int health_failures = 0;
  bool removing = false;
  Clock::time_point spawned_at;
  asio::steady_timer timer;  // ready timeout, restart delay or kill deadline
};

struct Supervisor::HealthResult {
  std::string id;
  std::uint64_t generation = 0;
  bool ok = false;
  bool draining = false;
  std::size_t slots_busy = 0;
  std::string problem;
};

namespace {

std::string random_token() {
  return narration::secure_random_hex(32);
}

// "cpu" → "cpu", "cuda:0" → "gpu0", "metal:1" → "metal1": the device part of a worker's name.
std::string device_slug(const std::string& device) {
  if (device.rfind("cuda:", 0) == 0) return "gpu" + device.substr(5);
  if (device.rfind("metal:", 0) == 0) return "metal" + device.substr(6);
  return device;
}

n::Level level_of(WorkerState state) {
  return state == WorkerState::crashed || state == WorkerState::failed ? n::Level::error
                                                                       : n::Level::info;
}

}  // namespace

Supervisor::Supervisor(asio::io_context& io, const PoolConfig& config, std::string callback_url,
                       PoolMetrics& metrics)
    : io_(io),
      config_(config),
      callback_url_(std::move(callback_url)),
      metrics_(metrics),
      ports_(config.host, config.worker_ports),
      health_timer_(io),
      health_running_(std::make_shared<std::atomic<bool>>(false)) {
  schedule_health_poll();
}

Supervisor::~Supervisor() {
  health_timer_.cancel();
  if (health_thread_.joinable()) health_thread_.join();
  workers_.clear();  // kills what still runs and joins its threads
}

Supervisor::Worker* Supervisor::find(const std::string& id) {
  const auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : it->second.get();
}

WorkerView Supervisor::view(const Worker& w) const {
  return {w.id, w.state, w.url, w.spec, w.pid, w.restarts, w.last_error, w.slots_busy, w.secret};
}

void Supervisor::publish() {
  std::vector<WorkerView> views;
  std::map<std::string, std::size_t> by_state;
  for (const auto& [id, w] : workers_) {
    views.push_back(view(*w));
    ++by_state[std::string(to_string(w->state))];
  }
  metrics_.set_worker_states(by_state);
  // What the orchestrator schedules by: a change here is worth telling it at once.
  std::string states;
  for (const auto& v : views)
    states += v.id + ' ' + std::string(to_string(v.state)) + ' ' + v.url + '\n';
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = std::move(views);
  }
  if (states != published_states_) {
    published_states_ = std::move(states);
    if (on_change_) on_change_();
  }
}

std::vector<WorkerView> Supervisor::workers() const {
  std::vector<WorkerView> views;
  for (const auto& [id, w] : workers_) views.push_back(view(*w));
  return views;
}

std::optional<WorkerView> Supervisor::worker(const std::string& id) const {
  const auto it = workers_.find(id);
  if (it == workers_.end()) return std::nullopt;
  return view(*it->second);
}

std::vector<WorkerView> Supervisor::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

std::size_t Supervisor::live_processes() const {
  return static_cast<std::size_t>(
      std::count_if(workers_.begin(), workers_.end(),
                    [](const auto& entry) { return entry.second->child != nullptr; }));
}

WorkerView Supervisor::spawn(const WorkerSpec& spec) {
  auto worker = std::make_unique<Worker>(io_);
  worker->id = fmt::format("worker-{}-r{}", device_slug(spec.device), next_number_++);
  worker->spec = spec;
  worker->spec.count = 1;
  Worker& w = *worker;
  workers_.emplace(w.id, std::move(worker));
  start(w);
  publish();
  return view(w);
}

void Supervisor::transition(Worker& w, WorkerState state, const std::string& why) {
  const WorkerState from = w.state;
  w.state = state;
  n::Narration(level_of(state), n::actor::pool_manager, n::action::worker_state_change)
      .target(w.id)
      .worker_id(w.id)
      .state(to_string(state))
      .human("Worker {} is {} (was {}): {}", w.id, to_string(state), to_string(from), why)
      .emit();
  publish();
}

void Supervisor::start(Worker& w) {
  ++w.generation;
  w.state = WorkerState::starting;
  w.url.clear();
  w.slots_busy = 0;
  w.health_failures = 0;
  w.kill_reason.clear();
  const auto port = ports_.acquire();
  if (ports_.skipped_last() > 0) {
    n::info(n::actor::pool_manager, n::action::worker_spawn)
        .target(w.id)
        .worker_id(w.id)
        .human("Skipped {} port(s) of {}-{} held by other processes", ports_.skipped_last(),
               config_.worker_ports.first, config_.worker_ports.last)
        .emit();
  }
  if (!port) {
    crashed(w,
            fmt::format("no free port in {}-{}; widen --worker-ports or stop what holds them",
                        config_.worker_ports.first, config_.worker_ports.last),
            nullptr);
    return;
  }
  w.port = *port;
  w.token = random_token();
  w.secret = random_token();

  ChildOptions options;
  options.binary = config_.worker_binary;
  options.args = {"worker",
                  "--model",
                  w.spec.model,
                  "--host",
                  config_.host,
                  "--port",
                  std::to_string(w.port),
                  "--worker-id",
                  w.id,
                  "--callback-url",
                  callback_url_,
                  "--device",
                  w.spec.device,
                  "--threads",
                  std::to_string(w.spec.threads),
                  "--slots",
                  std::to_string(w.spec.slots)};
  if (w.spec.context_length > 0) {
    options.args.push_back("--ctx");
    options.args.push_back(std::to_string(w.spec.context_length));
  }
  if (w.spec.kv_size > 0) {
    options.args.push_back("--kv-size");
    options.args.push_back(std::to_string(w.spec.kv_size));
  }
  options.args.push_back("--kv-type");
  options.args.push_back(w.spec.kv_type);
  // Its narration must be JSON lines whatever our own format is: we parse them.
  // Two secrets of its own: one it shows the pool (its ready callback), one it asks of whoever
  // sends it work. The pool's and orchestrator's tokens stay here.
  options.env = {{"LLORCH_CALLBACK_TOKEN", w.token},
                 {"LLORCH_WORKER_TOKEN", w.secret},
                 {"LLORCH_LOG_FORMAT", "json"}};
  options.unset_env = {"LLORCH_ORCHESTRATOR_TOKEN", "LLORCH_POOL_TOKEN", "LLORCH_API_TOKEN"};

  const std::string id = w.id;
  const std::uint64_t generation = w.generation;
  ChildCallbacks callbacks{
      .on_line = [this, id, generation](
                     OutputStream stream,
                     std::string line) { on_output(id, generation, stream, std::move(line)); },
      .on_exit =
          [this, id, generation](ExitStatus status) {
            asio::post(io_, [this, id, generation, status] { on_exit(id, generation, status); });
          },
  };
  try {
    w.child = std::make_unique<ChildProcess>(options, std::move(callbacks));
  } catch (const std::exception& e) {
    ports_.release(w.port);
    crashed(w, fmt::format("could not start {}: {}", config_.worker_binary, e.what()), nullptr);
    return;
  }
  w.pid = w.child->pid();
  w.spawned_at = Clock::now();
  n::info(n::actor::pool_manager, n::action::worker_spawn)
      .target(w.id)
      .worker_id(w.id)
      .state(to_string(WorkerState::starting))
      .human("Spawned worker {} (pid {}) on port {} for {} ({} slot(s), {} thread(s) each, {})",
             w.id, w.pid, w.port, w.spec.model, w.spec.slots, w.spec.threads, w.spec.device)
      .cute("A new worker hatches: hello, {}! 🐣", w.id)
      .pid(w.pid)
      .model_ref(w.spec.model)
      .address(fmt::format("{}:{}", config_.host, w.port))
      .device(w.spec.device)
      .emit();
  w.timer.expires_after(config_.supervision.ready_timeout);
  w.timer.async_wait([this, id, generation](const boost::system::error_code& ec) {
    if (!ec) on_ready_timeout(id, generation);
  });
  publish();
}

void Supervisor::on_output(const std::string& id, std::uint64_t generation, OutputStream stream,
                           std::string line) {
  // Called on the child's reader threads: narrate here (the narrator is thread-safe), and hand
  // what changes a worker's state to the io thread.
  const char* stream_name = stream == OutputStream::stdout_stream ? "stdout" : "stderr";
  auto parsed = n::parse_line(line);
  if (auto* event = std::get_if<n::Event>(&parsed)) {
    metrics_.count_output_line(stream_name, "narration");
    const std::string action = event->action;
    event->worker_id = id;
    event->pool_id = config_.pool_id;
    const bool complaint = event->level >= n::Level::error;
    const std::string human = event->human;
    n::narrate(std::move(*event));
    if (complaint) {
      asio::post(io_, [this, id, generation, human] {
        Worker* w = find(id);
        if (w != nullptr && w->generation == generation) w->complaint = human;
      });
    }
    if (action == n::action::model_load) {
      asio::post(io_, [this, id, generation] {
        Worker* w = find(id);
        if (w != nullptr && w->generation == generation && w->state == WorkerState::starting)
          transition(*w, WorkerState::loading, "it is loading its model");
      });
    }
    return;
  }
  metrics_.count_output_line(stream_name, "raw");
  n::Narration(stream == OutputStream::stdout_stream ? n::Level::info : n::Level::warn,
               n::actor::pool_manager, n::action::worker_output)
      .target(stream_name)
      .worker_id(id)
      .human("{}", std::get<n::RawLine>(parsed).text)
      .emit();
}

void Supervisor::on_ready_timeout(const std::string& id, std::uint64_t generation) {
  Worker* w = find(id);
  if (w == nullptr || w->generation != generation || !w->child) return;
  if (w->state != WorkerState::starting && w->state != WorkerState::loading) return;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(config_.supervision.ready_timeout).count();
  w->kill_reason = fmt::format("no ready callback within {} s", seconds);
  n::error(n::actor::pool_manager, n::action::ready_timeout)
      .target(w->id)
      .worker_id(w->id)
      .human("Worker {} has not called back within {} s (still {}); killing it", w->id, seconds,
             to_string(w->state))
      .duration_ms(
          std::chrono::duration_cast<std::chrono::milliseconds>(config_.supervision.ready_timeout)
              .count())
      .error_kind("READY_TIMEOUT")
      .emit();
  w->child->signal(SIGKILL);
}

void Supervisor::on_exit(const std::string& id, std::uint64_t generation, ExitStatus status) {
  Worker* w = find(id);
  if (w == nullptr || w->generation != generation) return;
  w->timer.cancel();
  ports_.release(w->port);
  w->child.reset();
  w->pid = 0;
  if (w->removing || shutting_down_) {
    transition(*w, WorkerState::stopped, "its process ended (" + status.describe() + ")");
    if (w->removing) {
      workers_.erase(id);
      publish();
    }
    maybe_finish_shutdown();
    return;
  }
  // The pool checks that a port is free before it hands it over, but another process (another
  // pool on this machine, a client's ephemeral port) can take it before the worker binds. That is
  // a lost race, not a crash: start the worker again on the next port at once, a few times.
  constexpr int kBindRaces = 3;
  if (status.exit_code == worker::kExitBindFailed && w->kill_reason.empty() &&
      w->bind_races < kBindRaces) {
    ++w->bind_races;
    n::warn(n::actor::pool_manager, n::action::worker_spawn)
        .target(w->id)
        .worker_id(w->id)
        .human(
            "Worker {} could not bind port {}: another process took it after the pool found it "
            "free; starting it again on another port (try {} of {})",
            w->id, w->port, w->bind_races, kBindRaces)
        .attempt(w->bind_races)
        .emit();
    start(*w);
    return;
  }
  // A worker whose model file changed under it ended its streams and left so that it could be
  // started on the new file: not a crash.
  if (status.exit_code == worker::kExitModelFileChanged && w->kill_reason.empty()) {
    n::warn(n::actor::pool_manager, n::action::model_file_changed)
        .target(w->id)
        .worker_id(w->id)
        .human("Worker {} stopped because its model file {} changed; starting it on the new file",
               w->id, w->spec.model)
        .model_ref(w->spec.model)
        .emit();
    w->file_in_flux = true;
    start(*w);
    return;
  }
  std::string reason = status.describe();
  if (status.exit_code) {
    const auto meaning = worker::describe_exit_code(*status.exit_code);
    if (!meaning.empty()) reason += fmt::format(" ({})", meaning);
  }
  if (!w->kill_reason.empty()) reason = fmt::format("{}; {}", w->kill_reason, reason);
  // A model that cannot load or a device that is not there stays so: starting the worker again
  // would fail the same way, and every request meanwhile would wait for nothing.
  // Except right after its file changed: a copy may still be under way, so that load failure is
  // a crash like any other (restarts with backoff, a crash loop if it persists).
  const bool hopeless = w->kill_reason.empty() && !w->file_in_flux && status.exit_code &&
                        (*status.exit_code == worker::kExitModelLoadFailed ||
                         *status.exit_code == worker::kExitDeviceUnavailable);
  if (hopeless) {
    if (!w->complaint.empty()) reason += ": " + w->complaint;
    return failed(*w, reason, status);
  }
  crashed(*w, reason, &status);
}

void Supervisor::failed(Worker& w, const std::string& reason, const ExitStatus& status) {
  w.last_error = reason;
  w.url.clear();
  metrics_.count_crash();
  w.state = WorkerState::failed;
  auto report = n::error(n::actor::pool_manager, n::action::worker_failed);
  report.target(w.id)
      .worker_id(w.id)
      .state(to_string(WorkerState::failed))
      .model_ref(w.spec.model)
      .human(
          "Worker {} cannot serve {}: {}. Not restarting it (a restart cannot mend this); fix "
          "the model or its settings, then DELETE /v1/workers/{} and spawn it again",
          w.id, w.spec.model, reason, w.id)
      .cute("{} can't do this one, and trying again won't help 🛑", w.id)
      .error_kind("WORKER_FAILED");
  if (status.exit_code) report.exit_code(*status.exit_code);
  report.emit();
  publish();
}

void Supervisor::crashed(Worker& w, const std::string& reason, const ExitStatus* status) {
  w.last_error = reason;
  w.url.clear();
  metrics_.count_crash();
  const WorkerState from = w.state;
  w.state = WorkerState::crashed;
  auto report = n::error(n::actor::pool_manager, n::action::worker_crashed);
  report.target(w.id)
      .worker_id(w.id)
      .state(to_string(WorkerState::crashed))
      .human("Worker {} crashed (was {}): {}", w.id, to_string(from), reason)
      .cute("Oh no, {} fell over! 🤕", w.id)
      .error_kind("WORKER_CRASHED");
  if (status != nullptr && status->exit_code) report.exit_code(*status->exit_code);
  if (status != nullptr && status->signal) report.signal(*status->signal);
  report.emit();
  publish();

  const auto now = Clock::now();
  w.crash_times.push_back(now);
  while (!w.crash_times.empty() &&
         now - w.crash_times.front() > config_.supervision.crash_loop_window)
    w.crash_times.pop_front();
  if (static_cast<int>(w.crash_times.size()) >= config_.supervision.crash_loop_crashes) {
    const auto span =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - w.crash_times.front());
    w.last_error = fmt::format("crash loop: {} crashes in {:.1f} s; last: {}", w.crash_times.size(),
                               std::chrono::duration<double>(span).count(), reason);
    metrics_.count_crash_loop();
    n::error(n::actor::pool_manager, n::action::crash_loop_detected)
        .target(w.id)
        .worker_id(w.id)
        .state(to_string(WorkerState::failed))
        .human(
            "Worker {} crashed {} times in {:.1f} s (last: {}); not restarting it. Fix the "
            "cause, then DELETE /v1/workers/{} and spawn it again",
            w.id, w.crash_times.size(), std::chrono::duration<double>(span).count(), reason, w.id)
        .error_kind("CRASH_LOOP")
        .attempt(static_cast<std::int64_t>(w.crash_times.size()))
        .emit();
    w.state = WorkerState::failed;
    publish();
    return;
  }
  std::chrono::milliseconds delay =
      config_.supervision.restart_backoff * (std::int64_t{1} << std::min(w.crashes_in_a_row, 20));
  delay = std::min(delay, config_.supervision.restart_backoff_max);
  ++w.crashes_in_a_row;
  n::warn(n::actor::pool_manager, n::action::worker_restart)
      .target(w.id)
      .worker_id(w.id)
      .human("Restarting worker {} in {} ms (restart {})", w.id, delay.count(), w.restarts + 1)
      .attempt(w.restarts + 1)
      .duration_ms(delay.count())
      .emit();
  const std::string id = w.id;
  const std::uint64_t generation = w.generation;
  w.timer.expires_after(delay);
  w.timer.async_wait([this, id, generation](const boost::system::error_code& ec) {
    Worker* worker = find(id);
    if (ec || shutting_down_ || worker == nullptr || worker->generation != generation ||
        worker->state != WorkerState::crashed)
      return;
    ++worker->restarts;
    metrics_.count_restart();
    start(*worker);
  });
}

Supervisor::RemoveResult Supervisor::remove(const std::string& id) {
  Worker* w = find(id);
  if (w == nullptr) return RemoveResult::not_found;
  if (!w->child) {
    w->timer.cancel();
    n::info(n::actor::pool_manager, n::action::worker_state_change)
        .target(id)
        .worker_id(id)
        .state(to_string(WorkerState::stopped))
        .human("Removed worker {} (it was {} with no process)", id, to_string(w->state))
        .emit();
    workers_.erase(id);
    publish();
    return RemoveResult::removed;
  }
  if (!w->removing) {
    w->removing = true;
    transition(*w, WorkerState::draining, "asked to stop (DELETE /v1/workers/" + id + ")");
    w->child->signal(SIGTERM);
    kill_after_drain_timeout(*w);
  }
  return RemoveResult::draining;
}

void Supervisor::kill_after_drain_timeout(Worker& w) {
  const std::string id = w.id;
  const std::uint64_t generation = w.generation;
  w.timer.expires_after(config_.supervision.drain_timeout);
  w.timer.async_wait([this, id, generation](const boost::system::error_code& ec) {
    Worker* worker = find(id);
    if (ec || worker == nullptr || worker->generation != generation || !worker->child) return;
    n::warn(n::actor::pool_manager, n::action::server_shutdown)
        .target(id)
        .worker_id(id)
        .human("Worker {} did not stop within {} ms of SIGTERM; killing it (SIGKILL)", id,
               config_.supervision.drain_timeout.count())
        .emit();
    worker->child->signal(SIGKILL);
  });
}

ReadyAnswer Supervisor::ready(const std::string& authorization, const std::string& body) {
  const auto reject = [&](unsigned status, const char* code, std::string message,
                          const char* outcome, std::vector<api::FieldError> details = {}) {
    metrics_.count_ready_callback(outcome);
    n::warn(n::actor::pool_manager, n::action::callback_rejected)
        .target("/v1/workers/ready")
        .human("Rejected a ready callback (HTTP {}): {}", status, message)
        .error_kind(code)
        .emit();
    return ReadyAnswer{status, code, std::move(message), std::move(details)};
  };
  const auto json = api::parse_untrusted(body);
  if (!json.is_object())
    return reject(400, "MALFORMED_JSON", "the body is not a JSON object", "invalid");
  std::vector<api::FieldError> errors;
  const auto text = [&](const char* key, bool required) -> std::string {
    const auto it = json.find(key);
    if (it == json.end()) {
      if (required) errors.push_back({key, "required", fmt::format("{} is required", key)});
      return {};
    }
    if (!it->is_string()) {
      errors.push_back({key, "type:string", fmt::format("{} must be a string", key)});
      return {};
    }
    return it->get<std::string>();
  };
  const std::string id = text("worker_id", true);
  const std::string url = text("url", true);
  if (!url.empty()) {
    try {
      net::parse_url(url);
    } catch (const std::exception& e) {
      errors.push_back({"url", "format:url", e.what()});
    }
  }
  for (const char* key : {"slots", "memory_bytes"}) {
    if (json.contains(key) && !json[key].is_number_unsigned())
      errors.push_back(
          {key, "type:integer", fmt::format("{} must be a non-negative integer", key)});
  }
  Worker* w = id.empty() ? nullptr : find(id);
  const std::string bearer = api::bearer_token(authorization);
  // The token is checked before the rest of the body is judged: a caller without it learns nothing.
  if (!id.empty() && (w == nullptr || bearer.empty() || !api::same_secret(bearer, w->token))) {
    return reject(401, "UNAUTHORIZED",
                  w == nullptr ? fmt::format("no worker {} in this pool", id)
                               : fmt::format("wrong or missing bearer token for worker {}", id),
                  "unauthorized");
  }
  if (!errors.empty()) {
    std::string fields;
    for (const auto& e : errors) fields += (fields.empty() ? "" : ", ") + e.field;
    return reject(
        400, "INVALID_REQUEST",
        fmt::format("{} invalid field{}: {}", errors.size(), errors.size() == 1 ? "" : "s", fields),
        "invalid", std::move(errors));
  }
  if (w->state != WorkerState::starting && w->state != WorkerState::loading) {
    return reject(
        409, "UNEXPECTED_CALLBACK",
        fmt::format("worker {} is {}, not waiting for its ready callback", id, to_string(w->state)),
        "unexpected");
  }
  metrics_.count_ready_callback("accepted");
  if (w->state == WorkerState::starting) {
    // Its stdout is read on another thread: a model that loads in a millisecond can call back
    // before its model_load line has been handled. The states still go in order.
    transition(*w, WorkerState::loading, "it loaded its model (its callback overtook that line)");
  }
  w->timer.cancel();
  w->url = url;
  w->crashes_in_a_row = 0;
  w->bind_races = 0;
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - w->spawned_at);
  const auto memory = static_cast<std::int64_t>(api::count_or(json, "memory_bytes"));
  const WorkerState from = w->state;
  w->state = WorkerState::ready;
  w->file_in_flux = false;
  n::info(n::actor::pool_manager, n::action::worker_state_change)
      .target(w->id)
      .worker_id(w->id)
      .state(to_string(WorkerState::ready))
      .human("Worker {} is ready (was {}) at {}, {} ms after spawning ({} MB of weights)", w->id,
             to_string(from), url, waited.count(), memory / (1024 * 1024))
      .cute("{} is ready to roll! 🚀", w->id)
      .address(url)
      .duration_ms(waited.count())
      .memory_bytes(memory)
      .emit();
  publish();
  return {200, "", "", {}};
}

void Supervisor::schedule_health_poll() {
  health_timer_.expires_after(config_.supervision.health_interval);
  health_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || shutting_down_) return;
    if (!health_running_->load()) {
      struct Target {
        std::string id;
        std::uint64_t generation;
        std::string url;
      };
      std::vector<Target> targets;
      for (const auto& [id, w] : workers_) {
        if (w->child && (w->state == WorkerState::ready || w->state == WorkerState::busy))
          targets.push_back({id, w->generation, w->url});
      }
      if (!targets.empty()) {
        if (health_thread_.joinable()) health_thread_.join();
        health_running_->store(true);
        const auto timeout = std::min<std::chrono::milliseconds>(
            config_.supervision.health_interval, std::chrono::milliseconds(2000));
        health_thread_ = std::thread([this, targets, timeout, running = health_running_] {
          std::vector<HealthResult> results;
          for (const auto& t : targets) {
            HealthResult r{t.id, t.generation, false, false, 0, {}};
            try {
              net::ClientRequest request{.method = "GET", .url = t.url + "/health"};
              request.timeout = timeout;
              const auto response = net::http_call(request);
              // Whatever answers on the worker's port is read without trusting its shape.
              const auto body = api::parse_untrusted(response.body);
              r.draining = api::string_or(body, "status") == "draining";
              r.ok = response.status == 200 && body.is_object();
              if (r.ok) r.slots_busy = api::count_or(body, "slots_busy");
              if (!r.ok && !r.draining)
                r.problem = fmt::format("GET /health answered HTTP {}", response.status);
            } catch (const std::exception& e) {
              r.problem = e.what();
            }
            results.push_back(std::move(r));
          }
          asio::post(io_, [this, results] { apply_health(results); });
          running->store(false);
        });
      }
    }
    schedule_health_poll();
  });
}

void Supervisor::apply_health(const std::vector<HealthResult>& results) {
  for (const auto& r : results) {
    Worker* w = find(r.id);
    if (w == nullptr || w->generation != r.generation || !w->child) continue;
    if (w->state != WorkerState::ready && w->state != WorkerState::busy) continue;
    if (r.draining) {
      transition(*w, WorkerState::draining, "it says it is shutting down");
      continue;
    }
    if (r.ok) {
      w->health_failures = 0;
      w->slots_busy = r.slots_busy;
      const WorkerState now =
          r.slots_busy >= w->spec.slots ? WorkerState::busy : WorkerState::ready;
      if (now != w->state)
        transition(*w, now, fmt::format("{} of {} slot(s) busy", r.slots_busy, w->spec.slots));
      continue;
    }
    ++w->health_failures;
    const int limit = config_.supervision.health_failures_before_kill;
    n::warn(n::actor::pool_manager, n::action::health_check_failed)
        .target(w->id)
        .worker_id(w->id)
        .human("Health check {} of {} failed for worker {}: {}", w->health_failures, limit, w->id,
               r.problem)
        .attempt(w->health_failures)
        .error_kind("HEALTH_CHECK_FAILED")
        .emit();
    if (w->health_failures >= limit) {
      w->kill_reason =
          fmt::format("unresponsive: {} health checks failed (last: {})", limit, r.problem);
      w->child->signal(SIGKILL);
    }
  }
  publish();
}

void Supervisor::shutdown(std::function<void()> done) {
  on_shutdown_done_ = std::move(done);
  if (!shutting_down_) {
    shutting_down_ = true;
    health_timer_.cancel();
    for (auto& [id, w] : workers_) {
      w->timer.cancel();
      if (!w->child) continue;
      transition(*w, WorkerState::draining, "the pool manager is shutting down");
      w->child->signal(SIGTERM);
      kill_after_drain_timeout(*w);
    }
  }
  maybe_finish_shutdown();
}

void Supervisor::maybe_finish_shutdown() {
  if (!shutting_down_ || !on_shutdown_done_ || live_processes() > 0) return;
  asio::post(io_, std::exchange(on_shutdown_done_, nullptr));
}

}  // namespace llorch::pool
