#include "orchestrator/orchestrator_service.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "api/http_common.hpp"
#include "narration/correlation.hpp"
#include "narration/narrate.hpp"
#include "orchestrator/openai_api.hpp"
#include "orchestrator/shared_tasks.hpp"
#include "orchestrator/task_request.hpp"
#include "orchestrator/task_stream.hpp"
#include "ui/pages.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;
using api::error_response;
using net::HttpResponse;
using Json = nlohmann::ordered_json;

namespace {

constexpr std::string_view kTasks = "/v2/tasks";
constexpr std::string_view kPools = "/v1/pools";
constexpr std::size_t kListedEndedTasks = 50;  // GET /v2/tasks: the newest ended ones

// The browser pages (no data in them: served to anyone), or nullopt.
std::optional<std::string_view> page_at(const std::string& path) {
  if (path == "/" || path == "/index.html") return ui::chat_page();
  if (path == "/ui/system") return ui::system_page();
  return std::nullopt;
}

HttpResponse json_response(unsigned status, const Json& body) {
  return {
      status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace), {}};
}

}  // namespace

struct OrchestratorService::Call {
  net::HttpRequest request;
  std::shared_ptr<net::Exchange> exchange;
  std::string correlation_id;
  std::string traceparent;
  std::string client;          // the API key's client ("" when no keys are configured)
  bool operator_view = false;  // the metrics token, or nothing configured: sees every client

  net::Headers identity() const {
    net::Headers h{{"X-Correlation-Id", correlation_id}};
    if (!traceparent.empty()) h.emplace_back("traceparent", traceparent);
    return h;
  }
  void reply(HttpResponse response) const {
    for (auto& h : identity()) response.headers.push_back(std::move(h));
    exchange->respond(std::move(response));
  }
  bool allow(const char* method) const {
    auto refusal = api::unless_method(request, method, correlation_id);
    if (refusal) reply(std::move(*refusal));
    return !refusal;
  }
};

OrchestratorService::OrchestratorService(ServiceConfig config, Scheduler& scheduler,
                                         OrchestratorMetrics& metrics)
    : config_(std::move(config)), scheduler_(scheduler), metrics_(metrics) {}

void OrchestratorService::set_shared(SharedTasks* shared) {
  shared_ = shared;
  // Each call waits on NATS (a round trip, seconds when it is down): a few at once.
  state_calls_ = std::make_unique<boost::asio::thread_pool>(4);
  std::lock_guard lock(offload_mutex_);
  offloading_ = true;
}

void OrchestratorService::finish_state_calls() {
  {
    std::lock_guard lock(offload_mutex_);
    offloading_ = false;
  }
  // The orchestrator's stopper and its destructor both call this.
  if (state_calls_) std::call_once(state_calls_joined_, [this] { state_calls_->join(); });
}

void OrchestratorService::handle(net::HttpRequest request,
                                 std::shared_ptr<net::Exchange> exchange) {
  const std::string path = request.path();
  const bool calls_nats =
      path.rfind(kTasks, 0) == 0 || path == "/v1/completions" || path == "/v1/chat/completions";
  if (calls_nats) {
    std::lock_guard lock(offload_mutex_);
    if (offloading_) {
      boost::asio::post(*state_calls_, [this, request = std::move(request),
                                        exchange = std::move(exchange)]() mutable {
        serve(std::move(request), std::move(exchange));
      });
      return;
    }
  }
  serve(std::move(request), std::move(exchange));
}

void OrchestratorService::serve(net::HttpRequest request, std::shared_ptr<net::Exchange> exchange) {
  Call call{std::move(request), std::move(exchange), "", ""};
  call.correlation_id = api::correlation_of(call.request);
  if (const auto trace = n::parse_traceparent(call.request.header("traceparent")))
    call.traceparent = trace->to_string();
  n::RequestScope scope({call.correlation_id, "", nullptr});
  const std::string path = call.request.path();

  const auto client = authenticate(call, path);
  if (!client) return;
  call.client = *client;
  try {
    route(call, path);
  } catch (const StateUnavailable& e) {
    n::error(n::actor::orchestrator, n::action::error)
        .target(path)
        .human("Cannot serve {} {}: the shared state is out of reach: {}", call.request.method,
               path, e.what())
        .error_kind("STATE_UNAVAILABLE")
        .emit();
    HttpResponse r = error_response(
        503, "STATE_UNAVAILABLE",
        fmt::format("the shared state is out of reach ({}); retry in a few seconds", e.what()),
        call.correlation_id);
    r.headers.emplace_back("Retry-After", "2");
    call.reply(std::move(r));
  }
}

void OrchestratorService::route(Call& call, const std::string& path) {
  if (const auto html = page_at(path)) {
    if (call.allow("GET")) page(call, *html);
  } else if (path == "/v1/narration") {
    if (call.allow("GET")) call.exchange->stream(call.identity(), feed_->subscribe());
  } else if (path == kTasks) {
    if (call.request.method == "GET") return list_tasks(call);
    if (call.allow("GET, POST")) create_task(call);
  } else if (path.rfind(std::string(kTasks) + "/", 0) == 0) {
    task_route(call, path.substr(kTasks.size() + 1));
  } else if (path == "/v1/completions" || path == "/v1/chat/completions") {
    if (call.allow("POST")) openai(call, path == "/v1/chat/completions");
  } else if (path == "/v1/models") {
    if (call.allow("GET")) models(call);
  } else if (path.rfind("/v1/models/", 0) == 0) {
    if (call.allow("GET")) model(call, path.substr(std::string_view("/v1/models/").size()));
  } else if (path.rfind(kPools, 0) == 0) {
    pools(call, path.substr(kPools.size()));
  } else if (path == "/health") {
    if (call.allow("GET")) health(call);
  } else if (path == "/metrics") {
    if (call.allow("GET")) call.reply({200, "text/plain; version=0.0.4", metrics_.text(), {}});
  } else {
    call.reply(error_response(404, "NOT_FOUND",
                              fmt::format("no endpoint {}; the orchestrator serves / (the chat "
                                          "page), /ui/system, /v2/tasks, /v1/completions, "
                                          "/v1/chat/completions, /v1/models, /v1/pools, "
                                          "/v1/narration, /health, /metrics",
                                          path),
                              call.correlation_id));
  }
}

std::optional<std::string> OrchestratorService::authenticate(Call& call, const std::string& path) {
  const std::string token = api::bearer_token(call.request.header("authorization"));
  const bool keys = config_.keys->enabled();
  const bool pool_api = path.rfind(kPools, 0) == 0;
  const bool user_api = path.rfind(kTasks, 0) == 0 || path == "/v1/completions" ||
                        path == "/v1/chat/completions" || path.rfind("/v1/models", 0) == 0;
  const auto client = [&]() -> std::optional<std::string> {
    return keys ? config_.keys->client_of(token) : std::optional<std::string>("");
  };
  const auto refuse = [&](std::string_view why) -> std::optional<std::string> {
    if (user_api) {
      n::warn(n::actor::http_server, n::action::access_denied)
          .target(path)
          .human("Refused {} {}: {}", call.request.method, path, why)
          .error_kind("UNAUTHORIZED")
          .emit();
      HttpResponse r = path.rfind("/v1/", 0) == 0
                           ? openai_error(401, "invalid_request_error", "invalid_api_key",
                                          std::string(why), call.correlation_id)
                           : error_response(401, "UNAUTHORIZED", why, call.correlation_id);
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      call.reply(std::move(r));
    } else {
      call.reply(api::unauthorized(call.request, why, call.correlation_id));
    }
    return std::nullopt;
  };
  // The pages hold no data: everything they show they fetch with the token the user gives them.
  if (path == "/health" || page_at(path)) return "";
  // same_secret is false for an unset token.
  const bool operator_token = api::same_secret(token, config_.metrics_token);
  call.operator_view = !keys || operator_token;
  if (path == "/v1/narration") {
    // Every client's narration: for the operator alone once any API key is configured.
    if (call.operator_view) return "";
    return refuse(config_.metrics_token.empty()
                      ? "the narration feed is for operators: start the orchestrator with "
                        "--metrics-token-env VAR and send that token"
                      : "wrong or missing operator token (the one --metrics-token-env names)");
  }
  if (path == kTasks && call.request.method == "GET" && operator_token) return "";
  if (path == "/metrics") {
    if (!keys && config_.metrics_token.empty()) return "";
    if (operator_token) return "";
    if (auto c = client(); c && keys) return c;
    return refuse("wrong or missing bearer token (an API key or the metrics token)");
  }
  if (pool_api) {
    if (api::same_secret(token, config_.pool_token)) return "";
    // Reading the pool list is also for API key holders; changing it is for pools alone.
    if (call.request.method == "GET" && path == kPools) {
      if (auto c = client()) return c;
    }
    if (config_.pool_token.empty() && !keys) return "";  // nothing configured: a private machine
    if (config_.pool_token.empty())
      return refuse(
          "pool registration is closed: start the orchestrator with LLORCH_ORCHESTRATOR_TOKEN "
          "set and give the pool managers the same token");
    return refuse("wrong or missing pool token (LLORCH_ORCHESTRATOR_TOKEN)");
  }
  if (auto c = client()) return c;
  return refuse("wrong or missing API key (Authorization: Bearer …)");
}

std::optional<Scheduler::Admission> OrchestratorService::admit(Call& call,
                                                               const std::shared_ptr<Task>& task,
                                                               bool openai_errors) {
  if (!task->spec().model.empty() && scheduler_.has_workers() &&
      !scheduler_.serves(task->spec().model)) {
    std::string known;
    for (const auto& m : scheduler_.models()) known += (known.empty() ? "" : ", ") + m;
    const std::string message =
        fmt::format("no worker serves model \"{}\"; known: {}", task->spec().model, known);
    metrics_.count_request("invalid");
    call.reply(openai_errors
                   ? openai_error(404, "invalid_request_error", "model_not_found", message,
                                  call.correlation_id)
                   : error_response(404, "MODEL_NOT_FOUND", message, call.correlation_id));
    return std::nullopt;
  }
  const auto a = draining_ ? Scheduler::Admission{}
                 : shared_ ? shared_->admit(task)
                           : scheduler_.admit(task);
  if (a.admitted) return a;
  if (!a.unavailable.empty()) {
    metrics_.count_request("rejected");
    const std::string& message = a.unavailable;
    n::error(n::actor::orchestrator, n::action::task_rejected)
        .target(task->id())
        .human("Rejected task {}: {}", task->id(), message)
        .error_kind("MODEL_UNAVAILABLE")
        .emit();
    call.reply(
        openai_errors
            ? openai_error(503, "server_error", "model_unavailable", message, call.correlation_id)
            : error_response(503, "MODEL_UNAVAILABLE", message, call.correlation_id));
    return std::nullopt;
  }
  metrics_.count_request("rejected");
  const std::string message =
      draining_ ? std::string("the orchestrator is shutting down; send the request elsewhere")
                : fmt::format("the queue is full ({} of {} waiting); retry in a second", a.waiting,
                              a.capacity);
  n::warn(n::actor::orchestrator, n::action::task_rejected)
      .target(task->id())
      .human("Rejected task {}: {}", task->id(), message)
      .cute("Sorry, no room right now! 🚦 {}", message)
      .queue_position(static_cast<std::int64_t>(a.waiting))
      .error_kind(draining_ ? "DRAINING" : "QUEUE_FULL")
      .emit();
  const unsigned status = draining_ ? 503 : 429;
  HttpResponse r =
      openai_errors
          ? openai_error(status, draining_ ? "server_error" : "rate_limit_error",
                         draining_ ? "draining" : "queue_full", message, call.correlation_id)
          : error_response(status, draining_ ? "DRAINING" : "QUEUE_FULL", message,
                           call.correlation_id);
  r.headers.emplace_back("Retry-After", "1");
  call.reply(std::move(r));
  return std::nullopt;
}

std::shared_ptr<Task> OrchestratorService::readable(const std::shared_ptr<Task>& task) {
  return shared_ ? shared_->follow(record_of(*task)) : task;
}

void OrchestratorService::create_task(Call& call) {
  if (auto unsupported = api::unless_json(call.request, call.correlation_id))
    return call.reply(std::move(*unsupported));
  auto parsed = parse_task_request(call.request.body);
  if (auto* errors = std::get_if<std::vector<api::FieldError>>(&parsed)) {
    metrics_.count_request("invalid");
    n::warn(n::actor::http_server, n::action::validation_failed)
        .target(std::string(kTasks))
        .human("Validation failed: {}", api::field_list(*errors))
        .error_kind("INVALID_REQUEST")
        .emit();
    return call.reply(api::invalid_fields(*errors, call.correlation_id));
  }
  TaskSpec spec = std::get<TaskSpec>(std::move(parsed));
  spec.owner = call.client;
  spec.request.job_id = "task-" + n::generate_uuid_v4();
  const std::string id = spec.request.job_id;
  auto task = Task::create(id, call.correlation_id, call.traceparent, std::move(spec), &metrics_);
  const auto admitted = admit(call, task, false);
  if (!admitted) return;
  HttpResponse r = json_response(202, {{"job_id", id},
                                       {"events_url", fmt::format("{}/{}/events", kTasks, id)},
                                       {"queue_position", admitted->position},
                                       {"correlation_id", call.correlation_id}});
  r.headers.emplace_back("Location", fmt::format("{}/{}", kTasks, id));
  call.reply(std::move(r));
}

void OrchestratorService::list_tasks(Call& call) {
  // The operator sees every client's tasks; an API key its own.
  call.reply(json_response(
      200,
      {{"tasks",
        shared_ ? shared_->tasks_json(call.client, call.operator_view, kListedEndedTasks)
                : scheduler_.tasks_json(call.client, call.operator_view, kListedEndedTasks)}}));
}

void OrchestratorService::page(Call& call, std::string_view html) {
  // One self-contained page: its scripts and styles are inline and it talks to this origin
  // alone, which the policy enforces (no request to any other host, no framing).
  HttpResponse r{200, "text/html; charset=utf-8", std::string(html), {}};
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src "
                         "'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri "
                         "'none'; form-action 'none'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-cache");
  call.reply(std::move(r));
}

void OrchestratorService::task_route(Call& call, const std::string& rest) {
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string tail = slash == std::string::npos ? "" : rest.substr(slash);
  // With shared state the record says whose it is and how it stands, wherever it runs.
  auto task = scheduler_.find(id);
  std::optional<TaskRecord> record;
  if (shared_) record = shared_->find(id);
  const std::string owner = record ? record->owner : task ? task->spec().owner : "";
  // Another client's task does not exist for this one.
  const bool exists = (record || (task && !shared_)) && owner == call.client;
  if (!exists || (tail != "" && tail != "/events")) {
    return call.reply(error_response(
        404, tail == "" || tail == "/events" ? "JOB_NOT_FOUND" : "NOT_FOUND",
        exists
            ? fmt::format("no endpoint {}/{}{}", kTasks, id, tail)
            : fmt::format("no task {} (finished tasks are kept for a while, then forgotten)", id),
        call.correlation_id));
  }
  if (tail == "/events") {
    if (!call.allow("GET")) return;
    // Last-Event-ID: the id of the last frame the reader has; the stream resumes after it.
    std::size_t from = 0;
    const std::string last = call.request.header("last-event-id");
    if (!last.empty()) {
      // Digits only: stoull would take "-1" (and " 1", "+1") and wrap around to the start.
      const bool digits = last.size() <= 18 && std::all_of(last.begin(), last.end(), [](char c) {
                            return c >= '0' && c <= '9';
                          });
      if (digits) {
        from = std::stoull(last) + 1;
      } else {
        return call.reply(error_response(
            400, "INVALID_REQUEST",
            "Last-Event-ID must be a non-negative integer: the id of an event of this stream",
            call.correlation_id, {{"Last-Event-ID", "type:integer", "an event id, e.g. 41"}}));
      }
    }
    auto headers = call.identity();
    headers.emplace_back("X-Job-Id", id);
    auto stream = record ? shared_->follow(*record) : task;
    return call.exchange->stream(std::move(headers),
                                 std::make_shared<TaskStream>(stream, from, scheduler_, metrics_));
  }
  if (call.request.method == "GET") {
    if (!record)
      return call.reply(json_response(200, task->describe(scheduler_.queue_position(id))));
    // Shared: the record says where it is and how it stands; a task this replica runs adds its
    // live token count.
    Json described = shared_->describe_task(*record);
    if (task && !record->ended()) described["tokens_out"] = task->tokens_out();
    return call.reply(json_response(200, described));
  }
  if (!call.allow("DELETE")) return;
  switch (scheduler_.cancel(id, "DELETE " + std::string(kTasks) + "/" + id)) {
    case Scheduler::CancelResult::cancelled:
      return call.reply(json_response(202, {{"job_id", id}, {"cancelled", true}}));
    case Scheduler::CancelResult::already_ended:
      return call.reply(json_response(
          200, {{"job_id", id},
                {"cancelled", false},
                {"state", task ? Json(to_string(task->state())) : describe(*record)["state"]}}));
    case Scheduler::CancelResult::not_found:
      break;
  }
  call.reply(
      error_response(404, "JOB_NOT_FOUND", fmt::format("no task {}", id), call.correlation_id));
}

void OrchestratorService::openai(Call& call, bool chat) {
  if (auto unsupported = api::unless_json(call.request, call.correlation_id)) {
    return call.reply(openai_error(415, "invalid_request_error", "unsupported_media_type",
                                   "send the body as application/json", call.correlation_id));
  }
  auto parsed = parse_openai_request(call.request.body, chat);
  if (auto* errors = std::get_if<std::vector<api::FieldError>>(&parsed)) {
    metrics_.count_request("invalid");
    n::warn(n::actor::http_server, n::action::validation_failed)
        .target(call.request.path())
        .human("Validation failed: {}", api::field_list(*errors))
        .error_kind("INVALID_REQUEST")
        .emit();
    return call.reply(
        openai_error(400, "invalid_request_error", "invalid_request",
                     fmt::format("{} invalid field{}: {}", errors->size(),
                                 errors->size() == 1 ? "" : "s", api::field_list(*errors)),
                     call.correlation_id, *errors));
  }
  OpenAiRequest r = std::get<OpenAiRequest>(std::move(parsed));
  if (!r.ignored.empty()) {
    n::info(n::actor::http_server, n::action::request_validated)
        .target(call.request.path())
        .human("Accepted and ignored {}: llorch has nothing to do for them",
               fmt::join(r.ignored, ", "))
        .emit();
  }
  r.spec.owner = call.client;
  r.spec.request.job_id = (chat ? "chatcmpl-" : "cmpl-") + n::generate_uuid_v4();
  const std::string id = r.spec.request.job_id;
  auto admitted_task = Task::create(id, call.correlation_id, call.traceparent, r.spec, &metrics_);
  if (!admit(call, admitted_task, true)) return;
  const auto task = readable(admitted_task);
  if (r.stream) {
    auto headers = call.identity();
    headers.emplace_back("X-Job-Id", id);
    return call.exchange->stream(std::move(headers), std::make_shared<OpenAiStream>(
                                                         task, std::move(r), scheduler_, metrics_));
  }
  // Not streaming: answer once the task has ended.
  struct Waiter {
    std::mutex mutex;
    bool answered = false;
    std::uint64_t key = 0;
  };
  auto waiter = std::make_shared<Waiter>();
  // The task keeps its subscribers: hold it weakly here, and leave once answered, or the two
  // would keep each other alive.
  auto answer = [weak = std::weak_ptr<Task>(task), waiter, r, call]() {
    const auto t = weak.lock();
    if (!t || !t->ended()) return;
    std::lock_guard lock(waiter->mutex);
    if (waiter->answered) return;
    waiter->answered = true;
    call.reply(openai_response(*t, r, call.correlation_id));
    t->unsubscribe(waiter->key);
  };
  {
    std::lock_guard lock(waiter->mutex);
    waiter->key = task->subscribe(answer);
  }
  // A client that hangs up while it waits (queued or running) wants nothing more: cancel.
  call.exchange->on_hangup([weak = std::weak_ptr<Task>(task), this] {
    const auto t = weak.lock();
    if (t && !t->ended() && t->spec().cancel_on_disconnect)
      scheduler_.cancel(t->id(), "the client disconnected");
  });
  answer();  // it may have ended before the subscription
}

void OrchestratorService::model(Call& call, const std::string& id) {
  for (const auto& known : scheduler_.models()) {
    if (known == id) {
      return call.reply(json_response(200, {{"id", id},
                                            {"object", "model"},
                                            {"created", scheduler_.model_created(id)},
                                            {"owned_by", "llorch"}}));
    }
  }
  call.reply(
      openai_error(404, "invalid_request_error", "model_not_found",
                   fmt::format("no worker serves model \"{}\" (GET /v1/models lists them)", id),
                   call.correlation_id));
}

void OrchestratorService::models(Call& call) {
  Json data = Json::array();
  for (const auto& id : scheduler_.models())
    data.push_back({{"id", id},
                    {"object", "model"},
                    {"created", scheduler_.model_created(id)},
                    {"owned_by", "llorch"}});
  call.reply(json_response(200, {{"object", "list"}, {"data", data}}));
}

void OrchestratorService::pools(Call& call, const std::string& rest) {
  // "" → /v1/pools; "/{id}" → one pool; "/{id}/heartbeat".
  if (rest.empty()) {
    if (call.request.method == "GET")
      return call.reply(json_response(200, {{"pools", scheduler_.pools_json()}}));
    if (!call.allow("GET, POST")) return;
  }
  const auto report_of = [&](bool need_url) -> std::optional<PoolReport> {
    if (auto unsupported = api::unless_json(call.request, call.correlation_id)) {
      call.reply(std::move(*unsupported));
      return std::nullopt;
    }
    std::vector<api::FieldError> errors;
    auto report = parse_pool_report(call.request.body, need_url, errors);
    if (!report) call.reply(api::invalid_fields(errors, call.correlation_id));
    return report;
  };
  if (rest.empty()) {
    auto report = report_of(true);
    if (!report) return;
    const std::string id = report->pool_id;
    const std::size_t workers = report->workers.size();
    const std::string url = report->url;
    scheduler_.update_pool(std::move(*report), true);
    n::info(n::actor::orchestrator, n::action::pool_register)
        .target(id)
        .human("Pool {} registered from {} with {} worker(s)", id, url, workers)
        .pool_id(id)
        .emit();
    return call.reply(json_response(200, {{"pool_id", id}, {"registered", true}}));
  }
  const std::string tail = rest.substr(1);
  const auto slash = tail.find('/');
  const std::string id = tail.substr(0, slash);
  if (slash != std::string::npos && tail.substr(slash) == "/heartbeat") {
    if (!call.allow("POST")) return;
    auto report = report_of(false);
    if (!report) return;
    if (report->pool_id != id) {
      return call.reply(error_response(400, "INVALID_REQUEST", "pool_id differs from the path",
                                       call.correlation_id,
                                       {{"pool_id", "const:path", "pool_id must equal " + id}}));
    }
    if (!scheduler_.heartbeat(std::move(*report))) {
      return call.reply(error_response(404, "POOL_NOT_FOUND",
                                       fmt::format("no pool {}; register first", id),
                                       call.correlation_id));
    }
    return call.reply(json_response(200, {{"pool_id", id}}));
  }
  if (slash != std::string::npos || !call.allow("DELETE")) {
    if (slash != std::string::npos)
      call.reply(error_response(404, "NOT_FOUND", "no such pool endpoint", call.correlation_id));
    return;
  }
  if (!scheduler_.forget_pool(id)) {
    return call.reply(
        error_response(404, "POOL_NOT_FOUND", fmt::format("no pool {}", id), call.correlation_id));
  }
  n::info(n::actor::orchestrator, n::action::pool_deregister)
      .target(id)
      .human("Pool {} said goodbye", id)
      .pool_id(id)
      .emit();
  call.reply(json_response(200, {{"pool_id", id}, {"registered", false}}));
}

void OrchestratorService::health(Call& call) {
  const auto load = scheduler_.load();
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  auto problems = scheduler_.problems();
  // failed: workers exist and none of them can ever serve (all failed); degraded: some worker is
  // crashed or failed (problems say which and why).
  // why_unservable("") is empty unless workers exist and every one of them failed.
  const bool all_failed = !scheduler_.why_unservable("").empty();
  const std::string status = draining_           ? "draining"
                             : all_failed        ? "failed"
                             : !problems.empty() ? "degraded"
                                                 : "ready";
  call.reply(json_response(status == "draining" || status == "failed" ? 503 : 200,
                           {{"status", status},
                            {"role", "orchestrator"},
                            {"queued", load.queued},
                            {"running", load.running},
                            {"pools", load.pools},
                            {"workers_ready", load.ready_workers},
                            {"problems", std::move(problems)},
                            {"uptime_s", uptime}}));
}

}  // namespace llorch::orchestrator
