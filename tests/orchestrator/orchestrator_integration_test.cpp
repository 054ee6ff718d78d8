// The real stack on 127.0.0.1: `llorch orchestrator`, a `llorch pool-manager` registered with it,
// and real `llorch worker` processes on the shared stories260K model. What a user of the task API
// sees: order, correlation, the queue, cancellation on disconnect, a worker killed mid-stream,
// resuming a dropped stream, and every refusal.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

#include "llorch_process.hpp"

namespace llorch::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__)
constexpr auto kCancelBound = 500ms;  // everything runs several times slower under ASan
#else
constexpr auto kCancelBound = 100ms;  // the issue's bound: disconnect → slot free
#endif

// Waits until the orchestrator at `url` reports at least `workers` ready workers (false after 30
// s).
bool wait_for_ready_workers(const std::string& url, int workers) {
  const auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    net::ClientRequest r{.method = "GET", .url = url + "/health"};
    const auto health = json::parse(net::http_call(r).body, nullptr, false);
    if (health.is_object() && health.value("workers_ready", 0) >= workers) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// A generation that is still running when the test acts on it (the Stack needs ctx 8192).
json long_task(const char* on_disconnect = "continue") {
  return {{"prompt", "Once"},
          {"max_tokens", 8000},
          {"ignore_eos", true},
          {"on_disconnect", on_disconnect}};
}

// The pool API's token (LLORCH_POOL_TOKEN), given to the pool manager and to the orchestrator,
// which reads crash reports and polled pools with it.
const std::string kPoolToken = "pool-token-for-the-tests-0123456789";
const std::vector<std::pair<std::string, std::string>> kPoolEnv{{"LLORCH_POOL_TOKEN", kPoolToken}};

struct Stack {
  explicit Stack(int slots = 1, int queue_size = 64, std::size_t ctx = 0)
      : config(write_config(slots, ctx)),
        orchestrator({"orchestrator", "--port", "0", "--queue-size", std::to_string(queue_size)},
                     kPoolEnv),
        pool({"pool-manager", "--port", "0", "--pool-id", "p1", "--config", config.string(),
              "--orchestrator", orchestrator.url()},
             kPoolEnv) {
    // Ready when the orchestrator has heard of a ready worker.
    if (wait_for_ready_workers(orchestrator.url(), 1)) return;
    ADD_FAILURE() << "no worker became ready within 30 s";
  }
  ~Stack() {
    std::error_code ignored;
    fs::remove(config, ignored);
  }

  static fs::path write_config(int slots, std::size_t ctx) {
    const fs::path file = fs::temp_directory_path() /
                          ("llorch-orch-" + std::to_string(::getpid()) + "-" +
                           std::to_string(Clock::now().time_since_epoch().count()) + ".toml");
    std::ofstream(file) << "heartbeat_interval_ms = 100\n[[workers]]\nmodel = \"" << model_path()
                        << "\"\nslots = " << slots << (ctx ? "\nctx = " + std::to_string(ctx) : "")
                        << "\n";
    return file;
  }

  static net::ClientResponse get(const std::string& url, net::Headers headers = {}) {
    net::ClientRequest r{.method = "GET", .url = url};
    r.headers = std::move(headers);
    return net::http_call(r);
  }

  json worker() const {
    const auto list = json::parse(
        get(pool.url() + "/v1/workers", {{"Authorization", "Bearer " + kPoolToken}}).body);
    return list["workers"][0];
  }

  net::ClientResponse post_task(const json& body, net::Headers headers = {}) const {
    net::ClientRequest r{
        .method = "POST", .url = orchestrator.url() + "/v2/tasks", .body = body.dump()};
    r.headers = std::move(headers);
    return net::http_call(r);
  }

  fs::path config;
  LlorchProcess orchestrator;
  LlorchProcess pool;
};

std::string events_url(const Stack& s, const net::ClientResponse& created) {
  return s.orchestrator.url() + json::parse(created.body)["events_url"].get<std::string>();
}

TEST(Orchestrator, TheStreamHoldsQueueDispatchWorkerNarrationAndTokensInOrderWithOneCorrelationId) {
  Stack s;
  const auto created =
      s.post_task({{"prompt", "Once upon a time"}, {"max_tokens", 20}, {"seed", 1}},
                  {{"X-Correlation-Id", "user-req-42"}});
  ASSERT_EQ(created.status, 202u) << created.body;
  const auto answer = json::parse(created.body);
  record_received("task_created", answer);
  EXPECT_EQ(created.headers.at("x-correlation-id"), "user-req-42");
  const auto r = read_events(events_url(s, created));
  ASSERT_FALSE(r.events.empty());
  std::vector<std::string> sequence;
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_EQ(r.events[i].id, std::to_string(i)) << "ids are continuous";
    EXPECT_EQ(r.data[i]["correlation_id"], "user-req-42") << r.events[i].data;
    sequence.push_back(r.events[i].event == "narration" ? r.data[i]["action"].get<std::string>()
                                                        : r.events[i].event);
  }
  const auto at = [&](const std::string& what) {
    return std::find(sequence.begin(), sequence.end(), what) - sequence.begin();
  };
  EXPECT_LT(at("task_admitted"), at("task_queued"));
  EXPECT_LT(at("task_queued"), at("task_dispatched"));
  EXPECT_LT(at("task_dispatched"), at("started"));
  EXPECT_LT(at("started"), at("request_validated"));
  EXPECT_LT(at("tokenize"), at("token"));
  EXPECT_EQ(sequence.back(), "end");
  EXPECT_EQ(std::count(sequence.begin(), sequence.end(), "token"), 20);
  EXPECT_EQ(std::count(sequence.begin(), sequence.end(), "end") +
                std::count(sequence.begin(), sequence.end(), "error"),
            1);
  // The same id in all three processes' stdout: the orchestrator's own lines, the pool manager's,
  // and the worker's (relayed by the pool manager, stamped emitted_by llorch-worker).
  const auto has_id = [](LlorchProcess& p, const std::string& component) {
    for (const auto& e : p.events())
      if (e.correlation_id == "user-req-42" && e.emitted_by.rfind(component, 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(s.pool.wait_for_event(
      [](const narration::Event& e) {
        return e.correlation_id == "user-req-42" && e.action == "inference_complete";
      },
      5s));
  EXPECT_TRUE(has_id(s.orchestrator, "llorch-orchestrator"));
  EXPECT_TRUE(has_id(s.pool, "llorch-worker"));
  // And the task reports its end.
  const auto state = json::parse(
      Stack::get(s.orchestrator.url() + "/v2/tasks/" + answer["job_id"].get<std::string>()).body);
  record_received("task", state);
  EXPECT_EQ(state["state"], "completed");
  EXPECT_EQ(state["tokens_out"], 20);
  EXPECT_EQ(state["worker_id"], "worker-cpu-r1");
  // The operator's view of the same moment: the pool, its worker, the task among the ended ones.
  const auto pools = json::parse(Stack::get(s.orchestrator.url() + "/v1/pools").body);
  record_received("pool_list", pools);
  EXPECT_EQ(pools["pools"][0]["workers"][0]["restarts"], 0);
  EXPECT_TRUE(pools["pools"][0]["workers"][0]["last_error"].is_null());
}

TEST(Orchestrator, AFullQueueAnswers429WithRetryAfterAndSaysHowFull) {
  Stack s(1, 1, 8192);
  const auto running = s.post_task(long_task());
  ASSERT_EQ(running.status, 202u);
  const auto queued = s.post_task(long_task());
  ASSERT_EQ(queued.status, 202u);
  EXPECT_EQ(json::parse(queued.body)["queue_position"], 1);
  const auto refused = s.post_task(long_task());
  ASSERT_EQ(refused.status, 429u) << refused.body;
  EXPECT_EQ(refused.headers.at("retry-after"), "1");
  const auto body = json::parse(refused.body);
  record_received("error", body);
  EXPECT_EQ(body["error"]["code"], "QUEUE_FULL");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("1 of 1 waiting"), std::string::npos);
  EXPECT_TRUE(s.orchestrator.wait_for_action("task_rejected", 2s));
  // Cancelling both ends them with one terminal event each.
  for (const auto* created : {&queued, &running}) {
    const std::string id = json::parse(created->body)["job_id"];
    net::ClientRequest del{.method = "DELETE", .url = s.orchestrator.url() + "/v2/tasks/" + id};
    EXPECT_EQ(net::http_call(del).status, 202u);
    const auto r = read_events(events_url(s, *created));
    ASSERT_FALSE(r.data.empty());
    EXPECT_EQ(r.data.back()["type"], "end");
    EXPECT_EQ(r.data.back()["stop_reason"], "CANCELLED");
  }
}

TEST(Orchestrator, AClientThatDisconnectsFreesTheWorkerSlotWithinTheBound) {
  Stack s(1, 64, 8192);
  const auto created = s.post_task(long_task("cancel"));
  ASSERT_EQ(created.status, 202u);
  const std::string worker_url = s.worker()["url"];
  read_events(events_url(s, created), {}, [](const api::SseEvent& e, const json& d) {
    return e.event == "token" && d["i"] == 5;
  });
  const auto closed = Clock::now();
  auto freed = 10s;
  while (Clock::now() - closed < 10s) {
    const auto health = json::parse(Stack::get(worker_url + "/health").body);
    if (health["slots_busy"] == 0) {
      freed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - closed);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - closed);
      RecordProperty("slot_freed_after_disconnect_ms", static_cast<int>(ms.count()));
      EXPECT_LT(ms, kCancelBound);
      break;
    }
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_LT(freed, 10s) << "the slot was never freed";
  EXPECT_TRUE(s.orchestrator.wait_for_action("task_cancelled", 2s));
  EXPECT_TRUE(s.pool.wait_for_action("inference_cancelled", 2s));
}

TEST(Orchestrator, AWorkerKilledMidStreamGivesAnErrorEventNamingTheCrash) {
  Stack s(1, 64, 8192);
  const auto created = s.post_task(long_task());
  ASSERT_EQ(created.status, 202u);
  const int pid = s.worker()["pid"];
  bool killed = false;
  const auto r = read_events(events_url(s, created), {}, [&](const api::SseEvent& e, const json&) {
    if (e.event == "token" && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    return false;
  });
  ASSERT_TRUE(killed);
  ASSERT_FALSE(r.data.empty());
  const json& last = r.data.back();
  EXPECT_EQ(last["type"], "error") << last;
  EXPECT_EQ(last["code"], "WORKER_LOST");
  const std::string message = last["message"];
  EXPECT_NE(message.find("worker-cpu-r1"), std::string::npos) << message;
  EXPECT_NE(message.find("signal 9"), std::string::npos) << message;
  EXPECT_TRUE(s.orchestrator.wait_for_action("worker_lost", 2s));
}

TEST(Orchestrator, LastEventIdResumesADroppedStreamWithoutLossOrDuplicates) {
  Stack s;
  const auto created = s.post_task({{"prompt", "Once upon a time"},
                                    {"max_tokens", 40},
                                    {"seed", 3},
                                    {"on_disconnect", "continue"}});
  ASSERT_EQ(created.status, 202u);
  const std::string url = events_url(s, created);
  const auto first =
      read_events(url, {}, [](const api::SseEvent& e, const json&) { return e.id == "6"; });
  ASSERT_EQ(first.events.size(), 7u);
  const auto rest = read_events(url, {{"Last-Event-ID", "6"}});
  ASSERT_FALSE(rest.events.empty());
  EXPECT_EQ(rest.events.front().id, "7");
  EXPECT_EQ(rest.data.back()["type"], "end");
  const auto whole = read_events(url);
  ASSERT_EQ(first.events.size() + rest.events.size(), whole.events.size());
  for (std::size_t i = 0; i < whole.events.size(); ++i) {
    const auto& e =
        i < first.events.size() ? first.events[i] : rest.events[i - first.events.size()];
    EXPECT_EQ(e.id, whole.events[i].id);
    EXPECT_EQ(e.data, whole.events[i].data);
  }
  const auto bad = Stack::get(url, {{"Last-Event-ID", "seven"}});
  EXPECT_EQ(bad.status, 400u);
}

TEST(Orchestrator, BadRequestsAreRefusedWithEveryFailingField) {
  Stack s;
  const auto r = s.post_task(
      {{"max_tokens", 0}, {"temperature", 9}, {"on_disconnect", "maybe"}, {"colour", "blue"}});
  ASSERT_EQ(r.status, 400u);
  const auto body = json::parse(r.body);
  record_received("error", body);
  std::set<std::string> fields;
  for (const auto& d : body["error"]["details"]) fields.insert(d["field"]);
  EXPECT_EQ(fields, (std::set<std::string>{"prompt", "max_tokens", "temperature", "on_disconnect",
                                           "colour"}));
  EXPECT_EQ(Stack::get(s.orchestrator.url() + "/v2/tasks/nope").status, 404u);
  EXPECT_EQ(Stack::get(s.orchestrator.url() + "/v2/tasks/nope/events").status, 404u);
  net::ClientRequest bad_json{
      .method = "POST", .url = s.orchestrator.url() + "/v2/tasks", .body = "{"};
  EXPECT_EQ(net::http_call(bad_json).status, 400u);
  const auto unknown_model = s.post_task({{"prompt", "x"}, {"model", "gpt-17"}});
  EXPECT_EQ(unknown_model.status, 404u) << unknown_model.body;
  // A bad registration names its fields too.
  net::ClientRequest reg{.method = "POST",
                         .url = s.orchestrator.url() + "/v1/pools",
                         .body = R"({"pool_id":"x y","url":"ftp://a","workers":3})"};
  const auto refused = net::http_call(reg);
  EXPECT_EQ(refused.status, 400u);
  EXPECT_EQ(json::parse(refused.body)["error"]["details"].size(), 3u) << refused.body;
}

TEST(Orchestrator, SigtermEndsRunningTasksWithATerminalEventAndExitsZero) {
  Stack s(1, 64, 8192);
  const auto created = s.post_task(long_task());
  ASSERT_EQ(created.status, 202u);
  bool signalled = false;
  const auto r = read_events(events_url(s, created), {}, [&](const api::SseEvent& e, const json&) {
    if (e.event == "token" && !signalled) {
      s.orchestrator.signal(SIGTERM);
      signalled = true;
    }
    return false;
  });
  ASSERT_FALSE(r.data.empty());
  EXPECT_EQ(r.data.back()["type"], "end");
  EXPECT_EQ(r.data.back()["stop_reason"], "CANCELLED");
  EXPECT_EQ(s.orchestrator.wait_exit(10s), 0);
}

TEST(Orchestrator, AQueuedTaskIsToldEachTimeItMovesUpAndMetricsCountIt) {
  Stack s(1, 8, 8192);
  const auto running = s.post_task(long_task());
  const auto second =
      s.post_task({{"prompt", "Hi"}, {"max_tokens", 4}, {"on_disconnect", "continue"}});
  const auto third =
      s.post_task({{"prompt", "Hi"}, {"max_tokens", 4}, {"on_disconnect", "continue"}});
  ASSERT_EQ(third.status, 202u);
  EXPECT_EQ(json::parse(third.body)["queue_position"], 2);
  const std::string id = json::parse(running.body)["job_id"];
  net::ClientRequest del{.method = "DELETE", .url = s.orchestrator.url() + "/v2/tasks/" + id};
  ASSERT_EQ(net::http_call(del).status, 202u);
  const auto r = read_events(events_url(s, third));
  std::vector<int> positions;
  for (const auto& d : r.data)
    if (d["type"] == "narration" && d["action"] == "task_queued")
      positions.push_back(d["queue_position"]);
  EXPECT_EQ(positions, (std::vector<int>{2, 1})) << "queued at 2, then moved up to 1";
  EXPECT_EQ(r.data.back()["type"], "end");
  const std::string metrics = Stack::get(s.orchestrator.url() + "/metrics").body;
  for (const char* name :
       {"llorch_orchestrator_queue_length 0", "llorch_orchestrator_queue_wait_seconds_count",
        "llorch_orchestrator_time_to_first_token_seconds_count",
        "llorch_orchestrator_token_latency_seconds_count",
        "llorch_orchestrator_relay_lag_seconds_count",
        "llorch_orchestrator_requests_total{outcome=\"cancelled\"} 1"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name << "\n" << metrics;
  }
}

TEST(Orchestrator, APoolNamedWithPoolIsPolledInsteadOfRegistering) {
  const fs::path config = Stack::write_config(1, 0);
  LlorchProcess pool(
      {"pool-manager", "--port", "0", "--pool-id", "named", "--config", config.string()}, kPoolEnv);
  LlorchProcess orchestrator({"orchestrator", "--port", "0", "--pool", pool.url()}, kPoolEnv);
  const auto deadline = Clock::now() + 30s;
  json pools;
  while (Clock::now() < deadline) {
    pools = json::parse(Stack::get(orchestrator.url() + "/v1/pools").body);
    if (!pools["pools"].empty() && pools["pools"][0]["workers"][0]["state"] == "ready") break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(pools["pools"].empty()) << pools;
  EXPECT_EQ(pools["pools"][0]["pool_id"], "named");
  EXPECT_EQ(pools["pools"][0]["registered"], false);
  net::ClientRequest r{.method = "POST",
                       .url = orchestrator.url() + "/v2/tasks",
                       .body = json{{"prompt", "Hi"}, {"max_tokens", 3}}.dump()};
  const auto created = net::http_call(r);
  ASSERT_EQ(created.status, 202u);
  const auto events =
      read_events(orchestrator.url() + json::parse(created.body)["events_url"].get<std::string>());
  EXPECT_EQ(events.data.back()["type"], "end");
  std::error_code ignored;
  fs::remove(config, ignored);
}

TEST(Orchestrator, OpenAiIdsAreSingleAndEachModelCanBeAskedFor) {
  Stack s;
  net::ClientRequest r{.method = "POST",
                       .url = s.orchestrator.url() + "/v1/completions",
                       .body = json{
                           {"model", "stories260K"},
                           {"prompt", "Once"},
                           {"max_tokens", 3},
                           {"store", false},
                           {"repeat_penalty",
                            1.1}}.dump()};
  const auto answer = net::http_call(r);
  ASSERT_EQ(answer.status, 200u) << answer.body;
  const std::string id = json::parse(answer.body)["id"];
  EXPECT_EQ(id.rfind("cmpl-", 0), 0u) << id;
  EXPECT_EQ(id.find("cmpl-cmpl-"), std::string::npos) << id;
  const auto model = Stack::get(s.orchestrator.url() + "/v1/models/stories260K");
  ASSERT_EQ(model.status, 200u) << model.body;
  EXPECT_EQ(json::parse(model.body)["id"], "stories260K");
  // created: when this orchestrator first saw the model — today, not 1970.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto created = json::parse(model.body)["created"].get<std::int64_t>();
  EXPECT_GT(created, now - 600);
  EXPECT_LE(created, now);
  const auto listed = json::parse(Stack::get(s.orchestrator.url() + "/v1/models").body);
  EXPECT_EQ(listed["data"][0]["created"], created);
  const auto missing = Stack::get(s.orchestrator.url() + "/v1/models/no-such-model");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(json::parse(missing.body)["error"]["code"], "model_not_found");
}

TEST(Orchestrator, AnApiTokenIsRequiredWhenConfigured) {
  LlorchProcess orchestrator({"orchestrator", "--port", "0", "--api-token-env", "TEST_API_TOKEN"},
                             {{"TEST_API_TOKEN", "s3cret"}});
  net::ClientRequest r{.method = "POST",
                       .url = orchestrator.url() + "/v2/tasks",
                       .body = json{{"prompt", "Hi"}}.dump()};
  const auto refused = net::http_call(r);
  EXPECT_EQ(refused.status, 401u);
  EXPECT_EQ(refused.headers.at("www-authenticate"), "Bearer");
  r.headers.emplace_back("Authorization", "Bearer s3cret");
  EXPECT_EQ(net::http_call(r).status, 202u);  // queued: no pool yet
  EXPECT_EQ(Stack::get(orchestrator.url() + "/v1/models").status, 401u);
  EXPECT_EQ(Stack::get(orchestrator.url() + "/health").status,
            200u);  // operators' endpoints stay open
}

TEST(Orchestrator, EachClientListsItsOwnTasksAndTheOperatorSeesEveryTaskAndTheFeed) {
  const fs::path keys = fs::temp_directory_path() / ("llorch-keys-" + std::to_string(::getpid()));
  std::ofstream(keys) << "alice:alice-key-0123456789abcdef\nbob:bob-key-0123456789abcdef\n";
  LlorchProcess orchestrator({"orchestrator", "--port", "0", "--api-keys-file", keys.string(),
                              "--metrics-token-env", "TEST_OPERATOR_TOKEN"},
                             {{"TEST_OPERATOR_TOKEN", "operator-token-0123456789"}});
  const net::Headers alice{{"Authorization", "Bearer alice-key-0123456789abcdef"}};
  const net::Headers bob{{"Authorization", "Bearer bob-key-0123456789abcdef"}};
  const net::Headers operator_token{{"Authorization", "Bearer operator-token-0123456789"}};
  const auto post = [&](const net::Headers& who) {
    net::ClientRequest r{.method = "POST",
                         .url = orchestrator.url() + "/v2/tasks",
                         .body = json{{"prompt", "Hi"}, {"max_tokens", 5}}.dump()};
    r.headers = who;
    r.headers.emplace_back("Content-Type", "application/json");
    return json::parse(net::http_call(r).body)["job_id"].get<std::string>();
  };
  // No pool: every task waits in the queue, in the order sent.
  const std::string a1 = post(alice);
  const std::string b1 = post(bob);
  const std::string a2 = post(alice);

  const auto list = [&](const net::Headers& who) {
    const auto r = Stack::get(orchestrator.url() + "/v2/tasks", who);
    EXPECT_EQ(r.status, 200u) << r.body;
    const auto body = json::parse(r.body);
    record_received("task_list", body);
    return body["tasks"];
  };
  const json mine = list(alice);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0]["job_id"], a1);
  EXPECT_EQ(mine[0]["queue_position"], 1);  // places in the whole queue, not among one's own
  EXPECT_EQ(mine[1]["job_id"], a2);
  EXPECT_EQ(mine[1]["queue_position"], 3);
  EXPECT_EQ(mine[0]["state"], "queued");
  const json theirs = list(bob);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(theirs[0]["job_id"], b1);
  const json every = list(operator_token);
  ASSERT_EQ(every.size(), 3u);
  EXPECT_EQ(every[1]["job_id"], b1);
  EXPECT_EQ(Stack::get(orchestrator.url() + "/v2/tasks").status, 401u);
  net::ClientRequest put{.method = "PUT", .url = orchestrator.url() + "/v2/tasks"};
  put.headers = alice;
  const auto not_allowed = net::http_call(put);
  EXPECT_EQ(not_allowed.status, 405u);
  EXPECT_EQ(not_allowed.headers.at("allow"), "GET, POST");

  // The narration feed: the operator's alone; it carries what happens from then on.
  EXPECT_EQ(Stack::get(orchestrator.url() + "/v1/narration", alice).status, 401u);
  std::thread later([&] {
    std::this_thread::sleep_for(300ms);
    post(bob);
  });
  std::vector<json> records;
  api::SseParser parser;
  net::ClientRequest feed{.method = "GET", .url = orchestrator.url() + "/v1/narration"};
  feed.headers = operator_token;
  feed.timeout = 10s;
  const auto answer = net::http_call(feed, [&](const net::ClientResponse&, std::string_view chunk) {
    for (auto& e : parser.feed(chunk)) {
      EXPECT_EQ(e.event, "narration");
      records.push_back(json::parse(e.data));
      record_received("narration_record", records.back());
    }
    return std::none_of(records.begin(), records.end(),
                        [](const json& r) { return r["action"] == "task_queued"; });
  });
  later.join();
  EXPECT_EQ(answer.status, 200u);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front()["action"], "task_admitted");
  EXPECT_EQ(records.front()["actor"], "orchestrator");

  // The pages are served to anyone: they hold no data, and the policy keeps them to this origin.
  for (const char* page : {"/", "/ui/system"}) {
    const auto r = Stack::get(orchestrator.url() + page);
    EXPECT_EQ(r.status, 200u) << page;
    EXPECT_EQ(r.headers.at("content-type"), "text/html; charset=utf-8");
    EXPECT_NE(r.headers.at("content-security-policy").find("default-src 'none'"),
              std::string::npos);
    EXPECT_NE(r.headers.at("content-security-policy").find("connect-src 'self'"),
              std::string::npos);
    EXPECT_NE(r.body.find("<!doctype html>"), std::string::npos);
    EXPECT_EQ(r.body.find("@include"), std::string::npos) << "every include was expanded";
    EXPECT_LT(r.body.size(), 300u * 1024);
  }
  std::error_code ignored;
  fs::remove(keys, ignored);
}

TEST(Orchestrator, ItsNarrationFeedCarriesThePoolsAndWorkersLinesToo) {
  Stack s;  // the pool manager is another process, as on another host
  std::thread later([&] {
    std::this_thread::sleep_for(1500ms);  // the orchestrator follows a pool's feed within a second
    s.post_task({{"prompt", "Once upon a time"}, {"max_tokens", 5}},
                {{"X-Correlation-Id", "feed-req-7"}});
  });
  std::vector<json> records;
  api::SseParser parser;
  net::ClientRequest feed{.method = "GET", .url = s.orchestrator.url() + "/v1/narration"};
  feed.timeout = 15s;
  net::http_call(feed, [&](const net::ClientResponse&, std::string_view chunk) {
    for (auto& e : parser.feed(chunk)) {
      records.push_back(json::parse(e.data));
      record_received("narration_record", records.back());
      const json& r = records.back();
      if (r["action"] == "inference_complete" && r.value("correlation_id", "") == "feed-req-7")
        return false;
    }
    return true;
  });
  later.join();
  const auto from = [&](const std::string& component) {
    return std::count_if(records.begin(), records.end(), [&](const json& r) {
      return r.value("correlation_id", "") == "feed-req-7" &&
             r.value("emitted_by", "").rfind(component, 0) == 0;
    });
  };
  EXPECT_GT(from("llorch-orchestrator"), 0) << "its own lines";
  EXPECT_GT(from("llorch-worker"), 0) << "the worker's, through its pool manager's feed";
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back()["action"], "inference_complete");
}

TEST(Orchestrator, AnOpenAiStreamWhoseWorkerDiesEndsWithAnErrorFrameThenDone) {
  Stack s(1, 64, 8192);
  const int pid = s.worker()["pid"];
  net::ClientRequest r{.method = "POST",
                       .url = s.orchestrator.url() + "/v1/chat/completions",
                       .body = json{{"model", "stories260K"},
                                    {"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                    {"max_tokens", 8000},
                                    {"stream", true},
                                    {"llorch", {{"ignore_eos", true}}}}
                                   .dump()};
  api::SseParser parser;
  std::vector<std::string> frames;
  bool killed = false;
  net::http_call(r, [&](const net::ClientResponse&, std::string_view chunk) {
    for (const auto& e : parser.feed(chunk)) {
      frames.push_back(e.data);
      if (!killed && e.data.find("\"content\"") != std::string::npos) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
    }
    return true;
  });
  ASSERT_TRUE(killed);
  ASSERT_GE(frames.size(), 2u);
  EXPECT_EQ(frames.back(), "[DONE]");
  const auto error = json::parse(frames[frames.size() - 2]);
  ASSERT_TRUE(error.contains("error")) << error;
  EXPECT_EQ(error["error"]["code"], "WORKER_LOST");
  EXPECT_EQ(error["error"]["type"], "server_error");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("signal 9"), std::string::npos);
}

// Children of `pid`, from every thread's /proc children list.
std::vector<int> children_of(int pid) {
  std::vector<int> out;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream list(task.path() / "children");
    for (int child; list >> child;) out.push_back(child);
  }
  return out;
}

TEST(Serve, RunsOrchestratorPoolAndWorkersAndSigtermStopsEveryProcess) {
  LlorchProcess serve({"serve", "--model", model_path(), "--port", "0", "--workers", "2"});
  ASSERT_TRUE(wait_for_ready_workers(serve.url(), 2));
  const auto workers = children_of(serve.pid());
  ASSERT_EQ(workers.size(), 2u);
  net::ClientRequest r{.method = "POST",
                       .url = serve.url() + "/v2/tasks",
                       .body = json{{"prompt", "Once"}, {"max_tokens", 8}}.dump()};
  const auto created = net::http_call(r);
  ASSERT_EQ(created.status, 202u);
  EXPECT_EQ(read_events(serve.url() + json::parse(created.body)["events_url"].get<std::string>())
                .data.back()["type"],
            "end");
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait_exit(15s), 0);
  for (const int pid : workers) {
    EXPECT_TRUE(::kill(pid, 0) == -1 && errno == ESRCH) << "worker " << pid << " outlived serve";
  }
}

// A config of two workers under other model names, in a folder of its own: `good` is the shared
// model under another name (a link), `broken` a file that is no model.
struct TwoModels {
  TwoModels() : dir(fs::temp_directory_path() / ("llorch-two-" + std::to_string(::getpid()))) {
    fs::create_directories(dir);
    fs::create_symlink(model_path(), dir / "good.gguf");
    std::ofstream(dir / "broken.gguf") << "this is text, not a GGUF model\n";
  }
  ~TwoModels() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path config(const std::string& workers) const {
    const fs::path file = dir / "pool.toml";
    std::ofstream(file) << "heartbeat_interval_ms = 100\n" << workers;
    return file;
  }
  std::string worker(const std::string& model, std::size_t ctx = 0) const {
    return "[[workers]]\nmodel = \"" + (dir / model).string() + "\"\n" +
           (ctx > 0 ? "ctx = " + std::to_string(ctx) + "\n" : "");
  }
  fs::path dir;
};

net::ClientResponse post(const std::string& url, const json& body) {
  return net::http_call({.method = "POST", .url = url + "/v2/tasks", .body = body.dump()});
}

// A model whose worker cannot load: requests for it get 503 with the worker's reason at once,
// the other model serves as ever, and /health says degraded and why.
TEST(Orchestrator, AModelThatCannotLoadIsRefusedAtOnceWithTheReason) {
  TwoModels models;
  LlorchProcess orchestrator({"orchestrator", "--port", "0"}, kPoolEnv);
  LlorchProcess pool(
      {"pool-manager", "--port", "0", "--pool-id", "p1", "--config",
       models.config(models.worker("good.gguf") + models.worker("broken.gguf")).string(),
       "--orchestrator", orchestrator.url()},
      kPoolEnv);
  ASSERT_TRUE(wait_for_ready_workers(orchestrator.url(), 1));
  json health = json::object();
  for (int i = 0; i < 300 && health.value("status", "") != "degraded"; ++i) {
    health = json::parse(Stack::get(orchestrator.url() + "/health").body);
    std::this_thread::sleep_for(10ms);
  }
  record_received("orchestrator_health", health);
  ASSERT_EQ(health["status"], "degraded") << health;
  ASSERT_EQ(health["problems"].size(), 1u);
  EXPECT_EQ(health["problems"][0]["state"], "failed");

  const auto refused = post(orchestrator.url(), {{"model", "broken"}, {"prompt", "Hi"}});
  EXPECT_EQ(refused.status, 503u);
  const json error = json::parse(refused.body);
  record_received("error", error);
  EXPECT_EQ(error["error"]["code"], "MODEL_UNAVAILABLE");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("model load failed"),
            std::string::npos)
      << error;
  const auto served =
      post(orchestrator.url(), {{"model", "good"}, {"prompt", "Hi"}, {"max_tokens", 4}});
  ASSERT_EQ(served.status, 202u);
  EXPECT_EQ(
      read_events(orchestrator.url() + json::parse(served.body)["events_url"].get<std::string>())
          .data.back()["type"],
      "end");
}

// A task waiting for a busy model never holds up a task for another model behind it, and a task
// nobody takes within --queue-timeout ends with QUEUE_TIMEOUT instead of waiting forever.
TEST(Orchestrator, QueuedTasksWaitPerModelAndNotForever) {
  TwoModels models;
  fs::create_symlink(model_path(), models.dir / "other.gguf");
  LlorchProcess orchestrator({"orchestrator", "--port", "0", "--queue-timeout", "1"}, kPoolEnv);
  LlorchProcess pool(
      {"pool-manager", "--port", "0", "--pool-id", "p1", "--config",
       models.config(models.worker("good.gguf", 32768) + models.worker("other.gguf")).string(),
       "--orchestrator", orchestrator.url()},
      kPoolEnv);
  ASSERT_TRUE(wait_for_ready_workers(orchestrator.url(), 2));
  // Long enough to outlast the queue timeout (stories260K runs thousands of tokens a second).
  json busy = long_task();
  busy["model"] = "good";
  busy["max_tokens"] = 30000;
  const auto running = post(orchestrator.url(), busy);
  ASSERT_EQ(running.status, 202u);
  const auto waiting = post(orchestrator.url(), {{"model", "good"}, {"prompt", "Hi"}});
  ASSERT_EQ(waiting.status, 202u);
  EXPECT_EQ(json::parse(waiting.body)["queue_position"], 1);
  // Behind the waiting one, for the other model: it runs now.
  const auto other =
      post(orchestrator.url(), {{"model", "other"}, {"prompt", "Hi"}, {"max_tokens", 4}});
  ASSERT_EQ(other.status, 202u);
  EXPECT_EQ(json::parse(other.body)["queue_position"], 0) << "held up behind another model";
  EXPECT_EQ(
      read_events(orchestrator.url() + json::parse(other.body)["events_url"].get<std::string>())
          .data.back()["type"],
      "end");
  const auto timed_out =
      read_events(orchestrator.url() + json::parse(waiting.body)["events_url"].get<std::string>());
  ASSERT_FALSE(timed_out.data.empty());
  EXPECT_EQ(timed_out.data.back()["type"], "error");
  EXPECT_EQ(timed_out.data.back()["code"], "QUEUE_TIMEOUT");
  net::http_call({.method = "DELETE",
                  .url = orchestrator.url() + "/v2/tasks/" +
                         json::parse(running.body)["job_id"].get<std::string>()});
}

// llorch serve on a file that cannot load exits within seconds, naming the cause and the fix.
TEST(Serve, AModelThatCannotLoadEndsServeWithTheReason) {
  TwoModels models;
  LlorchProcess serve({"serve", "--model", (models.dir / "broken.gguf").string(), "--port", "0"});
  EXPECT_EQ(serve.wait_exit(15s), 3);
  const auto said = serve.wait_for_event(
      [](const narration::Event& e) {
        return e.action == "worker_failed" && e.level == narration::Level::fatal;
      },
      1s);
  ASSERT_TRUE(said);
  EXPECT_NE(said->human.find("No worker can serve"), std::string::npos) << said->human;
  EXPECT_NE(said->human.find("model load failed"), std::string::npos) << said->human;
}

}  // namespace
}  // namespace llorch::testing
