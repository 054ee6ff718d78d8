// The real `llorch pool-manager` on 127.0.0.1 supervising real `llorch worker` processes on the
// shared stories260K model: spawning, relaying, crashes, restarts, crash loops, the ready callback,
// the API, the narration feed, the orchestrator link, and shutdown checked with the OS.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "llorch_process.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

namespace llorch::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

std::string workers_toml(int count, int slots = 1) {
  return "[[workers]]\nmodel = \"" + model_path() + "\"\ncount = " + std::to_string(count) +
         "\nslots = " + std::to_string(slots) + "\n";
}

// The pool API's token in these tests (LLORCH_POOL_TOKEN); call() shows it unless told otherwise.
const std::string kPoolToken = "pool-token-for-the-tests-0123456789";

// `llorch pool-manager --port 0 --config FILE <extra>`, with LLORCH_POOL_TOKEN set.
class PoolManager : public LlorchProcess {
 public:
  PoolManager(const fs::path& config, std::vector<std::string> extra = {},
              std::vector<std::pair<std::string, std::string>> env = {}, bool wait_for_bind = true)
      : LlorchProcess(argv(config, std::move(extra)), with_token(std::move(env)), wait_for_bind) {}

 private:
  static std::vector<std::pair<std::string, std::string>> with_token(
      std::vector<std::pair<std::string, std::string>> env) {
    env.emplace_back("LLORCH_POOL_TOKEN", kPoolToken);
    return env;
  }
  static std::vector<std::string> argv(const fs::path& config, std::vector<std::string> extra) {
    std::vector<std::string> args{"pool-manager", "--port", "0", "--config", config.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

net::ClientResponse call(const std::string& method, const std::string& url,
                         const std::string& body = "", net::Headers headers = {},
                         const std::string& content_type = "application/json") {
  const bool has_auth = std::any_of(headers.begin(), headers.end(),
                                    [](const auto& h) { return h.first == "Authorization"; });
  if (!has_auth) headers.emplace_back("Authorization", "Bearer " + kPoolToken);
  net::ClientRequest request{.method = method,
                             .url = url,
                             .body = body,
                             .content_type = content_type,
                             .headers = std::move(headers)};
  request.timeout = 10s;
  return net::http_call(request);
}

json get_json(const std::string& url) {
  return json::parse(call("GET", url).body);
}

// Polls GET /v1/workers until `accept` holds for the list (returns it) or the timeout passes.
json wait_for_workers(const std::string& pool_url, const std::function<bool(const json&)>& accept,
                      std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  json list;
  while (std::chrono::steady_clock::now() < deadline) {
    list = get_json(pool_url + "/v1/workers")["workers"];
    if (accept(list)) return list;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "timed out; workers are " << list.dump();
  return list;
}

bool all_ready(const json& list, std::size_t count) {
  if (list.size() != count) return false;
  for (const auto& w : list)
    if (w["state"] != "ready") return false;
  return true;
}

// Gone as far as the OS is concerned: no such process, or a zombie nobody has reaped yet.
bool process_gone(int pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

bool wait_gone(int pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_gone(pid)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Every narration line the process printed, for the contract test.
void record_narration_lines(LlorchProcess& process) {
  for (const auto& line : process.raw_lines()) {
    if (std::holds_alternative<narration::Event>(narration::parse_line(line)))
      record_received("narration_record", json::parse(line));
  }
}

std::vector<narration::Event> events_with(LlorchProcess& process, const std::string& action) {
  std::vector<narration::Event> out;
  for (auto& e : process.events())
    if (e.action == action) out.push_back(std::move(e));
  return out;
}

TEST(PoolManager, TwoWorkersReachReadyAndTheirLinesAreRelayedTagged) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", "pool_id = \"pool-it\"\n" + workers_toml(2)));
  ASSERT_FALSE(pool.url().empty()) << "the pool manager never bound its port";
  const json list = wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 2); });
  record_received("worker_list", get_json(pool.url() + "/v1/workers"));

  for (const auto& w : list) {
    const std::string id = w["id"];
    EXPECT_GT(w["pid"].get<int>(), 0);
    EXPECT_EQ(w["restarts"], 0);
    EXPECT_TRUE(w["url"].get<std::string>().starts_with("http://127.0.0.1:"));
    // The worker's own lines, re-emitted by the pool manager tagged with both ids.
    for (const char* action : {"startup", "model_load_complete", "server_bind", "callback_ready"}) {
      const auto relayed = pool.wait_for_event(
          [&](const narration::Event& e) {
            return e.action == action && e.worker_id == id && e.pool_id == "pool-it" &&
                   e.emitted_by.starts_with("llorch-worker@");
          },
          5s);
      EXPECT_TRUE(relayed) << action << " of " << id << " was not relayed";
    }
    // Its transitions, narrated by the pool manager.
    for (const char* state : {"starting", "loading", "ready"}) {
      EXPECT_TRUE(pool.wait_for_event(
          [&](const narration::Event& e) {
            return e.worker_id == id && e.state == state &&
                   e.emitted_by.starts_with("llorch-pool-manager@");
          },
          2s))
          << id << " never narrated " << state;
    }
  }
  const json health = get_json(pool.url() + "/health");
  record_received("pool_health", health);
  EXPECT_EQ(health["workers_ready"], 2);
  const std::string metrics = call("GET", pool.url() + "/metrics").body;
  EXPECT_NE(metrics.find("llorch_pool_workers{state=\"ready\"} 2"), std::string::npos) << metrics;
  record_narration_lines(pool);
}

TEST(PoolManager, ConsoleFormatNamesTheWorkerOnEachLine) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", workers_toml(1)), {}, {{"LLORCH_LOG_FORMAT", "pretty"}},
                   false);
  // "2025-10-09T13:31:30.000Z INFO  worker-cpu-r1: Loaded Llama model (…" (std::regex trips a
  // GCC 12 -Wmaybe-uninitialized false positive under ASan, so the shape is checked by hand).
  const auto console_line = [](const std::string& line) {
    const auto z = line.find("Z INFO  worker-cpu-r1: Loaded Llama model (");
    return z == 23 && line[4] == '-' && line[7] == '-' && line[10] == 'T' && line[13] == ':' &&
           line[16] == ':' && line[19] == '.' &&
           std::all_of(line.begin(), line.begin() + 4, [](char c) { return c >= '0' && c <= '9'; });
  };
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    for (const auto& line : pool.raw_lines()) seen = seen || console_line(line);
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(seen) << "no console line like \"… INFO  worker-cpu-r1: Loaded Llama model (…\"";
}

TEST(PoolManager, KilledWorkerIsReportedRestartedAndReadyAgain) {
  TempDir dir;
  PoolManager pool(
      dir.write("pool.toml", workers_toml(1) + "[supervision]\nrestart_backoff_ms = 50\n"));
  const json before = wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 1); });
  const int first_pid = before[0]["pid"];
  ASSERT_EQ(::kill(first_pid, SIGKILL), 0);

  const auto crash = pool.wait_for_event(
      [](const narration::Event& e) { return e.action == "worker_crashed"; }, 10s);
  ASSERT_TRUE(crash);
  EXPECT_EQ(crash->signal, SIGKILL);
  EXPECT_EQ(crash->worker_id, "worker-cpu-r1");
  EXPECT_NE(crash->human.find("killed by signal 9 (SIGKILL)"), std::string::npos) << crash->human;
  EXPECT_TRUE(pool.wait_for_action("worker_restart", 5s));

  const json after = wait_for_workers(pool.url(), [&](const json& l) {
    return all_ready(l, 1) && l[0]["restarts"] == 1 && l[0]["pid"] != first_pid;
  });
  EXPECT_NE(after[0]["last_error"].get<std::string>().find("signal 9"), std::string::npos);
  EXPECT_TRUE(process_gone(first_pid));
}

TEST(PoolManager, APortTakenBetweenTheCheckAndTheBindIsNotACrash) {
  TempDir dir;
  // The first start exits as a worker that lost its port does (kExitBindFailed = 4); the next
  // one is the real worker.
  const fs::path marker = dir.path() / "lost-once";
  const fs::path racer =
      dir.write("racing-worker.sh",
                "#!/bin/sh\nif [ ! -e '" + marker.string() + "' ]; then touch '" + marker.string() +
                    "'; exit 4; fi\nexec '" + std::string(LLORCH_BINARY) + "' \"$@\"\n",
                true);
  PoolManager pool(dir.write("pool.toml", workers_toml(1)), {"--worker-binary", racer.string()});
  const json ready = wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 1); });
  EXPECT_EQ(ready[0]["restarts"], 0);
  const auto retried = pool.wait_for_event(
      [](const narration::Event& e) {
        return e.action == "worker_spawn" &&
               e.human.find("another process took it") != std::string::npos;
      },
      1s);
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->level, narration::Level::warn);
  EXPECT_TRUE(events_with(pool, "worker_crashed").empty());
}

TEST(PoolManager, WorkerThatExitsAtOnceIsACrashLoop) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", workers_toml(1) +
                                              "[supervision]\nrestart_backoff_ms = 20\n"
                                              "crash_loop_crashes = 3\ncrash_loop_window_s = 60\n"),
                   {"--worker-binary", "/bin/false"});
  const auto loop = pool.wait_for_event(
      [](const narration::Event& e) { return e.action == "crash_loop_detected"; }, 10s);
  ASSERT_TRUE(loop);
  EXPECT_EQ(loop->level, narration::Level::error);
  EXPECT_NE(loop->human.find("not restarting"), std::string::npos) << loop->human;

  std::this_thread::sleep_for(300ms);  // time for restarts that should not happen
  EXPECT_EQ(events_with(pool, "worker_spawn").size(), 3u);
  const json w = get_json(pool.url() + "/v1/workers")["workers"][0];
  record_received("worker", w);
  EXPECT_EQ(w["state"], "failed");
  EXPECT_EQ(w["pid"], nullptr);
  EXPECT_NE(w["last_error"].get<std::string>().find("crash loop: 3 crashes"), std::string::npos)
      << w.dump();
  EXPECT_NE(w["last_error"].get<std::string>().find("exit code 1"), std::string::npos);
  record_narration_lines(pool);
}

// A model that cannot load fails the same way on every start: the worker is marked failed with
// the worker's own reason, never restarted, and the pool's health says nothing here can serve.
TEST(PoolManager, AModelThatCannotLoadFailsOnceWithItsReason) {
  TempDir dir;
  const auto bad = dir.write("broken.gguf", "this is not a model file, only text\n");
  PoolManager pool(dir.write("pool.toml",
                             "[supervision]\nrestart_backoff_ms = 20\n"
                             "[[workers]]\nmodel = \"" +
                                 bad.string() + "\"\n"));
  const auto failed = pool.wait_for_event(
      [](const narration::Event& e) { return e.action == "worker_failed"; }, 10s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->level, narration::Level::error);
  EXPECT_NE(failed->human.find("Not restarting"), std::string::npos) << failed->human;
  std::this_thread::sleep_for(300ms);  // time for restarts that should not happen
  EXPECT_EQ(events_with(pool, "worker_spawn").size(), 1u);
  EXPECT_TRUE(events_with(pool, "worker_restart").empty());
  const json w = get_json(pool.url() + "/v1/workers")["workers"][0];
  record_received("worker", w);
  EXPECT_EQ(w["state"], "failed");
  const std::string reason = w["last_error"];
  EXPECT_NE(reason.find("model load failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("GGUF"), std::string::npos) << "the worker's own words: " << reason;
  const auto health = call("GET", pool.url() + "/health");
  EXPECT_EQ(health.status, 503u);
  const json h = json::parse(health.body);
  record_received("pool_health", h);
  EXPECT_EQ(h["status"], "failed");
  ASSERT_EQ(h["problems"].size(), 1u);
  EXPECT_EQ(h["problems"][0]["reason"], reason);
}

TEST(PoolManager, ReadyCallbackWithAWrongTokenIs401AndNarrated) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", workers_toml(1)));
  wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 1); });
  const std::string ready = pool.url() + "/v1/workers/ready";
  const json body{{"worker_id", "worker-cpu-r1"}, {"url", "http://127.0.0.1:1"}};

  for (const auto& headers :
       {net::Headers{{"Authorization", "Bearer not-the-token"}}, net::Headers{}}) {
    const auto answer = call("POST", ready, body.dump(), headers);
    EXPECT_EQ(answer.status, 401u);
    EXPECT_EQ(answer.headers.at("www-authenticate"), "Bearer");
    const json error = json::parse(answer.body);
    record_received("error", error);
    EXPECT_EQ(error["error"]["code"], "UNAUTHORIZED");
  }
  const auto rejected = pool.wait_for_event(
      [](const narration::Event& e) { return e.action == "callback_rejected"; }, 5s);
  ASSERT_TRUE(rejected);
  EXPECT_NE(rejected->human.find("HTTP 401"), std::string::npos);
  EXPECT_EQ(rejected->human.find("not-the-token"), std::string::npos) << "the token was logged";

  const auto unknown = call("POST", ready, R"({"worker_id":"worker-nope","url":"http://x:1"})",
                            {{"Authorization", "Bearer x"}});
  EXPECT_EQ(unknown.status, 401u);
  const auto malformed = call("POST", ready, "{not json");
  EXPECT_EQ(malformed.status, 400u);
  record_received("error", json::parse(malformed.body));
  // The impostor changed nothing.
  const json w = get_json(pool.url() + "/v1/workers")["workers"][0];
  EXPECT_NE(w["url"], "http://127.0.0.1:1");
  EXPECT_EQ(w["state"], "ready");
}

TEST(PoolManager, SigtermStopsEveryWorkerAndExitsZero) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", workers_toml(2)));
  const json list = wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 2); });
  std::vector<int> pids;
  for (const auto& w : list) pids.push_back(w["pid"]);

  pool.signal(SIGTERM);
  EXPECT_EQ(pool.wait_exit(15s), 0);
  for (int pid : pids)
    EXPECT_TRUE(wait_gone(pid, 2s)) << "worker pid " << pid << " outlived the pool";
  std::size_t stopped = 0;
  for (const auto& e : events_with(pool, "worker_state_change")) stopped += e.state == "stopped";
  EXPECT_EQ(stopped, 2u);
  record_narration_lines(pool);
}

TEST(PoolManager, AWorkerThatIgnoresSigtermIsKilledAfterTheDrainTimeout) {
  TempDir dir;
  // Ignores SIGTERM and never calls back: only SIGKILL ends it.
  const fs::path stubborn =
      dir.write("stubborn-worker.sh", "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n", true);
  PoolManager pool(dir.write("pool.toml", workers_toml(1) + "[supervision]\ndrain_timeout_s = 1\n"),
                   {"--worker-binary", stubborn.string()});
  const auto spawned = pool.wait_for_event(
      [](const narration::Event& e) { return e.action == "worker_spawn" && e.pid; }, 10s);
  ASSERT_TRUE(spawned);
  const int pid = static_cast<int>(*spawned->pid);
  std::this_thread::sleep_for(200ms);  // let the shell install its trap
  pool.signal(SIGTERM);
  EXPECT_EQ(pool.wait_exit(15s), 0);
  EXPECT_TRUE(wait_gone(pid, 2s)) << "the stubborn worker outlived the pool manager";
  EXPECT_TRUE(pool.wait_for_event(
      [](const narration::Event& e) {
        return e.action == "server_shutdown" && e.human.find("SIGKILL") != std::string::npos;
      },
      1s));
}

TEST(PoolManager, KilledPoolManagerLeavesNoOrphans) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", workers_toml(2)));
  const json list = wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 2); });
  pool.signal(SIGKILL);
  EXPECT_NE(pool.wait_exit(5s), -1);
  for (const auto& w : list) {
    const int pid = w["pid"];
    EXPECT_TRUE(wait_gone(pid, 10s)) << "worker pid " << pid << " is an orphan";
  }
}

TEST(PoolManager, PortHeldByAnotherProcessIsSkipped) {
  // Hold a port (as another program would), and offer the pool a range that starts with it.
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length);
  const int taken = ntohs(address.sin_port);
  if (taken > 65000) {
    ::close(holder);
    GTEST_SKIP() << "the OS gave a port too close to 65535 for a range";
  }

  TempDir dir;
  PoolManager pool(dir.write("pool.toml", workers_toml(1)),
                   {"--worker-ports", std::to_string(taken) + "-" + std::to_string(taken + 50)});
  const json list = wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 1); });
  EXPECT_NE(list[0]["url"], "http://127.0.0.1:" + std::to_string(taken));
  // At least our port is skipped; tests running beside this one may hold neighbours of it too
  // (their clients' ephemeral ports), so the count is not pinned.
  const std::string range =
      " port(s) of " + std::to_string(taken) + "-" + std::to_string(taken + 50) + " held";
  EXPECT_TRUE(pool.wait_for_event(
      [&](const narration::Event& e) {
        return e.human.starts_with("Skipped ") && e.human.find(range) != std::string::npos;
      },
      2s));
  ::close(holder);
}

TEST(PoolManager, ApiSpawnsInspectsAndStopsWorkers) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", "pool_id = \"pool-api\"\n"));
  const std::string workers = pool.url() + "/v1/workers";

  const auto created = call(
      "POST", workers,
      json{{"model", model_path()}, {"slots", 2}, {"kv_size", 256}, {"kv_type", "f32"}}.dump());
  ASSERT_EQ(created.status, 201u) << created.body;
  const json w = json::parse(created.body);
  record_received("worker", w);
  EXPECT_EQ(created.headers.at("location"), "/v1/workers/" + w["id"].get<std::string>());
  EXPECT_EQ(w["slots"], 2);
  const std::string one = workers + "/" + w["id"].get<std::string>();
  wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 1); });
  const json shown = get_json(one);
  record_received("worker", shown);
  EXPECT_EQ(shown["state"], "ready");
  EXPECT_EQ(shown["kv_size"], 256);
  EXPECT_EQ(shown["kv_type"], "f32");
  // The worker got them: 256 positions are 16 blocks of 16.
  const std::string worker_metrics =
      net::http_call({.method = "GET", .url = shown["url"].get<std::string>() + "/metrics"}).body;
  EXPECT_NE(worker_metrics.find("\nllorch_worker_kv_cache_blocks 16"), std::string::npos)
      << worker_metrics;
  const int pid = shown["pid"];

  const auto stopping = call("DELETE", one);
  EXPECT_EQ(stopping.status, 202u);
  wait_for_workers(pool.url(), [](const json& l) { return l.empty(); });
  EXPECT_EQ(call("GET", one).status, 404u);
  EXPECT_TRUE(wait_gone(pid, 2s));

  // Every failing field, in one answer.
  const auto invalid =
      call("POST", workers, R"({"model":5,"slots":0,"colour":"red","kv_type":"q4","kv_size":8})");
  ASSERT_EQ(invalid.status, 400u);
  const json error = json::parse(invalid.body);
  record_received("error", error);
  std::vector<std::string> fields;
  for (const auto& d : error["error"]["details"]) fields.push_back(d["field"]);
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields, (std::vector<std::string>{"colour", "kv_size", "kv_type", "model", "slots"}));
  const auto missing = call("POST", workers, R"({"model":"/no/such/model.gguf"})");
  EXPECT_EQ(missing.status, 400u);
  EXPECT_NE(missing.body.find("no model file at /no/such/model.gguf"), std::string::npos);
  EXPECT_EQ(call("POST", workers, "{}", {}, "text/plain").status, 415u);
  EXPECT_EQ(call("PUT", workers, "{}").status, 405u);
  EXPECT_EQ(call("DELETE", workers + "/worker-nope").status, 404u);
  EXPECT_EQ(call("GET", pool.url() + "/v2/nothing").status, 404u);
}

TEST(PoolManager, NarrationFeedStreamsEveryWorkersLifecycle) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", ""));
  std::vector<json> received;
  std::mutex mutex;
  std::thread reader([&] {
    api::SseParser parser;
    net::ClientRequest request{.method = "GET", .url = pool.url() + "/v1/narration"};
    request.headers.emplace_back("Authorization", "Bearer " + kPoolToken);
    request.timeout = 20s;
    // Until the worker is ready and its own server_bind line has been relayed: the worker's
    // stdout is read on a thread of its own, so that line may come after the ready state.
    bool ready = false, bound = false;
    net::http_call(request, [&](const net::ClientResponse&, std::string_view chunk) {
      for (const auto& e : parser.feed(chunk)) {
        std::lock_guard lock(mutex);
        received.push_back(json::parse(e.data));
        ready = ready || received.back().value("state", "") == "ready";
        bound = bound || received.back().value("action", "") == "server_bind";
        if (ready && bound) return false;
      }
      return true;
    });
  });
  std::this_thread::sleep_for(200ms);  // subscribed before the worker exists
  ASSERT_EQ(call("POST", pool.url() + "/v1/workers", json{{"model", model_path()}}.dump()).status,
            201u);
  reader.join();
  std::lock_guard lock(mutex);
  std::vector<std::string> actions;
  for (const auto& e : received) {
    record_received("narration_record", e);
    actions.push_back(e["action"]);
  }
  for (const char* action : {"worker_spawn", "startup", "model_load_complete", "server_bind"}) {
    EXPECT_NE(std::find(actions.begin(), actions.end(), action), actions.end())
        << action << " missing from the feed";
  }
  EXPECT_EQ(received.back()["worker_id"], "worker-cpu-r1");
}

TEST(PoolManager, UnresponsiveWorkerIsKilledAndRestarted) {
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", workers_toml(1) +
                                              "[supervision]\nhealth_interval_ms = 100\n"
                                              "health_failures_before_kill = 2\n"
                                              "restart_backoff_ms = 20\n"));
  const json before = wait_for_workers(pool.url(), [](const json& l) { return all_ready(l, 1); });
  const int frozen = before[0]["pid"];
  ::kill(frozen, SIGSTOP);
  EXPECT_TRUE(pool.wait_for_action("health_check_failed", 10s));
  const auto crash = pool.wait_for_event(
      [](const narration::Event& e) { return e.action == "worker_crashed"; }, 10s);
  ASSERT_TRUE(crash);
  EXPECT_NE(crash->human.find("unresponsive: 2 health checks failed"), std::string::npos)
      << crash->human;
  wait_for_workers(pool.url(), [&](const json& l) {
    return all_ready(l, 1) && l[0]["pid"] != frozen && l[0]["restarts"] == 1;
  });
  EXPECT_TRUE(wait_gone(frozen, 2s));
}

TEST(PoolManager, WorkerThatNeverCallsBackIsKilledAfterTheReadyTimeout) {
  TempDir dir;
  const fs::path silent = dir.write("silent-worker.sh", "#!/bin/sh\nexec sleep 30\n", true);
  PoolManager pool(dir.write("pool.toml", workers_toml(1) + "[supervision]\nready_timeout_s = 1\n"
                                                            "restart_backoff_ms = 60000\n"),
                   {"--worker-binary", silent.string()});
  EXPECT_TRUE(pool.wait_for_action("ready_timeout", 10s));
  const auto crash = pool.wait_for_event(
      [](const narration::Event& e) { return e.action == "worker_crashed"; }, 5s);
  ASSERT_TRUE(crash);
  EXPECT_NE(crash->human.find("no ready callback within 1 s"), std::string::npos) << crash->human;
}

// A stand-in orchestrator: a real HTTP server in this process that records what it is sent.
class RecordingOrchestrator {
 public:
  RecordingOrchestrator()
      : server_([this](net::HttpRequest request, std::shared_ptr<net::Exchange> exchange) {
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
          }
          exchange->respond({200, "application/json", R"({"status":"ok"})", {}});
        }) {}
  std::string url() const { return server_.url(); }
  std::vector<net::HttpRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  bool wait_for(const std::function<bool(const std::vector<net::HttpRequest>&)>& accept) {
    for (int i = 0; i < 1000; ++i) {
      if (accept(requests())) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<net::HttpRequest> requests_;
  TestServer server_;  // last: stopped first, while the members it uses still exist
};

TEST(PoolManager, RegistersAndHeartbeatsWithTheOrchestrator) {
  RecordingOrchestrator orchestrator;
  TempDir dir;
  PoolManager pool(dir.write("pool.toml", "pool_id = \"pool-orch\"\nheartbeat_interval_ms = 100\n" +
                                              workers_toml(1)),
                   {"--orchestrator", orchestrator.url()});
  const auto count = [](const std::vector<net::HttpRequest>& requests, const std::string& method,
                        const std::string& target) {
    return std::count_if(requests.begin(), requests.end(),
                         [&](const auto& r) { return r.method == method && r.target == target; });
  };
  ASSERT_TRUE(orchestrator.wait_for([&](const auto& requests) {
    for (const auto& r : requests) {
      if (r.target != "/v1/pools/pool-orch/heartbeat") continue;
      const json body = json::parse(r.body);
      if (!body["workers"].empty() && body["workers"][0]["state"] == "ready") return true;
    }
    return false;
  })) << "no heartbeat with a ready worker";
  const auto requests = orchestrator.requests();
  EXPECT_EQ(count(requests, "POST", "/v1/pools"), 1);
  for (const auto& r : requests) {
    if (r.target == "/v1/pools") {
      const json body = json::parse(r.body);
      record_received("pool_registration", body);
      EXPECT_EQ(body["url"], pool.url());
      EXPECT_EQ(body["pool_id"], "pool-orch");
    } else {
      record_received("pool_heartbeat", json::parse(r.body));
    }
  }
  pool.signal(SIGTERM);
  EXPECT_EQ(pool.wait_exit(15s), 0);
  EXPECT_EQ(count(orchestrator.requests(), "DELETE", "/v1/pools/pool-orch"), 1);
}

}  // namespace
}  // namespace llorch::testing
