// Orchestrator replicas sharing their tasks on a real `nats-server -js` (127.0.0.1, a temporary
// store): a task queued through replica A outlives A's `kill -9` and is dispatched by B, and a
// reader who was following it through A resumes through B with Last-Event-ID and gets every event
// exactly once; a replica killed while it relays a task is taken over and the task ends with
// ORCHESTRATOR_LOST naming it; cancels work from any replica; the shared queue is bounded (429).
// Real pool manager and workers on stories260K.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>

#include "llorch_process.hpp"
#include "nats_cluster.hpp"
#include "nats_server.hpp"

namespace llorch::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Env = std::vector<std::pair<std::string, std::string>>;

const std::string kNatsToken = "nats-token-for-the-replica-tests-0123";
const Env kEnv{{"LLORCH_NATS_TOKEN", kNatsToken}};

// An orchestrator replica on the shared state `state` (its flags).
std::unique_ptr<LlorchProcess> replica_on(const std::vector<std::string>& state,
                                          const std::string& id, int queue_size = 64,
                                          int queue_timeout_s = 300) {
  std::vector<std::string> argv{"orchestrator",
                                "--port",
                                "0",
                                "--replica-id",
                                id,
                                "--queue-size",
                                std::to_string(queue_size),
                                "--queue-timeout",
                                std::to_string(queue_timeout_s)};
  argv.insert(argv.end(), state.begin(), state.end());
  return std::make_unique<LlorchProcess>(argv, kEnv);
}

// The pool manager p-shared on a shared state, keeping one single-slot stories260K worker
// (heartbeats every 200 ms), as its config file says.
struct WorkersFile {
  WorkersFile() {
    std::ofstream(file) << "heartbeat_interval_ms = 200\n[[workers]]\nmodel = \"" << model_path()
                        << "\"\nslots = 1\nctx = 8192\n";
  }
  ~WorkersFile() {
    std::error_code ignored;
    fs::remove(file, ignored);
  }
  std::unique_ptr<LlorchProcess> pool_on(const std::vector<std::string>& state) const {
    std::vector<std::string> argv{"pool-manager", "--port",   "0",          "--pool-id",
                                  "p-shared",     "--config", file.string()};
    argv.insert(argv.end(), state.begin(), state.end());
    return std::make_unique<LlorchProcess>(argv, kEnv);
  }
  const fs::path file = fs::temp_directory_path() /
                        ("llorch-replicas-" + std::to_string(::getpid()) + "-" +
                         std::to_string(Clock::now().time_since_epoch().count()) + ".toml");
};

// The replicas and pool managers of one test, all on one NATS server, entries living 2 s.
struct Cluster {
  std::vector<std::string> state() const {
    return {"--state", nats.url(), "--registry-ttl-ms", "2000"};
  }
  std::unique_ptr<LlorchProcess> replica(const std::string& id, int queue_size = 64,
                                         int queue_timeout_s = 300) const {
    return replica_on(state(), id, queue_size, queue_timeout_s);
  }
  std::unique_ptr<LlorchProcess> pool() const { return config.pool_on(state()); }

  NatsServer nats{kNatsToken};
  WorkersFile config;
};

// Whether `replica` lists a ready worker (or, `or_busy`, one serving someone) within the time.
bool ready_worker_at(const std::string& replica, std::chrono::milliseconds within,
                     bool or_busy = false);

// Two replicas and a pool manager, the worker ready on both.
struct Serving {
  Serving()
      : a(cluster.replica("replica-a")), b(cluster.replica("replica-b")), pool(cluster.pool()) {
    ready = !cluster.nats.url().empty() && ready_worker_at(a->url(), 30s) &&
            ready_worker_at(b->url(), 5s);
  }
  Cluster cluster;
  std::unique_ptr<LlorchProcess> a;
  std::unique_ptr<LlorchProcess> b;
  std::unique_ptr<LlorchProcess> pool;
  bool ready = false;
};

net::ClientResponse call(const std::string& method, const std::string& url,
                         const json& body = nullptr) {
  net::ClientRequest r{.method = method, .url = url, .body = body.is_null() ? "" : body.dump()};
  return net::http_call(r);
}

json task_at(const std::string& replica, const std::string& id) {
  return json::parse(call("GET", replica + "/v2/tasks/" + id).body, nullptr, false);
}

// The replica that runs the task once a worker has it (read through `replica`), or "" after 10 s.
std::string holder_of(const std::string& replica, const std::string& id) {
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
    const json t = task_at(replica, id);
    if (t.is_object() && t["state"] == "running" && !t["worker_id"].is_null()) return t["replica"];
  }
  return "";
}

// A task that is still streaming when the test acts on it (8000 tokens need ctx 8192); its
// created answer.
json start_long_task(const std::string& replica) {
  const auto created = call("POST", replica + "/v2/tasks",
                            {{"prompt", "Once"},
                             {"max_tokens", 8000},
                             {"ignore_eos", true},
                             {"on_disconnect", "continue"}});
  EXPECT_EQ(created.status, 202u) << created.body;
  return json::parse(created.body, nullptr, false);
}

bool ready_worker_at(const std::string& replica, std::chrono::milliseconds within, bool or_busy) {
  const auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    const json pools = json::parse(call("GET", replica + "/v1/pools").body, nullptr, false);
    for (const auto& p : pools.value("pools", json::array()))
      for (const auto& w : p["workers"])
        if (w["state"] == "ready" || (or_busy && w["state"] == "busy")) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// Ids 0, 1, 2, … in order, each once, and one terminal event, the last.
void expect_whole_stream(const Events& stream) {
  std::size_t terminals = 0;
  for (std::size_t i = 0; i < stream.events.size(); ++i) {
    EXPECT_EQ(stream.events[i].id, std::to_string(i));
    const auto& type = stream.events[i].event;
    if (type == "end" || type == "error") ++terminals;
  }
  EXPECT_EQ(terminals, 1u);
  ASSERT_FALSE(stream.events.empty());
  EXPECT_TRUE(stream.events.back().event == "end" || stream.events.back().event == "error");
}

bool narrated(const Events& stream, const std::string& action, const std::string& words) {
  for (const auto& d : stream.data)
    if (d.value("action", "") == action && d.value("human", "").find(words) != std::string::npos)
      return true;
  return false;
}

TEST(Replicas, ATaskQueuedThroughAKilledReplicaIsDispatchedByAnotherAndResumedThroughIt) {
  Cluster cluster;
  ASSERT_FALSE(cluster.nats.url().empty()) << "nats-server did not start (is it installed?)";
  auto a = cluster.replica("replica-a");
  auto b = cluster.replica("replica-b");

  // No worker anywhere yet: the task waits in the shared queue.
  const auto created = call("POST", a->url() + "/v2/tasks",
                            {{"prompt", "Once upon a time"},
                             {"max_tokens", 24},
                             {"temperature", 0},
                             {"on_disconnect", "continue"}});
  ASSERT_EQ(created.status, 202u) << created.body;
  const json answer = json::parse(created.body);
  EXPECT_EQ(answer["queue_position"], 1);
  const std::string id = answer["job_id"];
  const std::string path = answer["events_url"];

  // A reader follows it through A until it is queued, then A dies without a word.
  const Events before = read_events(a->url() + path, {}, [](const api::SseEvent&, const json& d) {
    return d.value("action", "") == "task_queued";
  });
  ASSERT_FALSE(before.events.empty());
  a->signal(SIGKILL);
  a->wait_exit(5s);

  // A worker appears; B, the replica left, takes the task from the shared queue.
  auto pool = cluster.pool();
  ASSERT_TRUE(ready_worker_at(b->url(), 30s));
  const Events after = read_events(b->url() + path, {{"Last-Event-ID", before.events.back().id}});
  ASSERT_FALSE(after.events.empty());
  EXPECT_EQ(after.events.front().id, std::to_string(before.events.size()))
      << "it resumes right after the last event the reader had";
  EXPECT_EQ(after.events.back().event, "end");
  EXPECT_TRUE(narrated(after, "task_claimed", "Replica replica-b took task " + id));

  // Together exactly the whole stream, as a fresh reader of B sees it: nothing lost, nothing twice.
  const Events whole = read_events(b->url() + path);
  expect_whole_stream(whole);
  ASSERT_EQ(before.events.size() + after.events.size(), whole.events.size());
  for (std::size_t i = 0; i < whole.events.size(); ++i) {
    const auto& mine =
        i < before.events.size() ? before.events[i] : after.events[i - before.events.size()];
    EXPECT_EQ(mine.id, whole.events[i].id);
    EXPECT_EQ(mine.data, whole.events[i].data);
  }
  const json t = task_at(b->url(), id);
  EXPECT_EQ(t["state"], "completed");
  EXPECT_EQ(t["replica"], "replica-b");
  EXPECT_EQ(t["tokens_out"], 24);

  // The NATS token stays out of every log line, and so do the workers' (in the registry).
  for (auto* process : {b.get(), pool.get()}) {
    for (const auto& line : process->raw_lines()) {
      EXPECT_EQ(line.find(kNatsToken), std::string::npos) << line;
      EXPECT_EQ(line.find("\"secret\""), std::string::npos) << line;
    }
  }
}

TEST(Replicas, AReplicaKilledWhileRelayingIsTakenOverAndItsTaskEndsNamingIt) {
  Serving serving;
  ASSERT_TRUE(serving.ready);
  auto& a = serving.a;
  auto& b = serving.b;

  const json created = start_long_task(a->url());
  const std::string id = created["job_id"];
  const std::string path = created["events_url"];
  const std::string holder = holder_of(b->url(), id);
  ASSERT_FALSE(holder.empty()) << "no replica ran it";
  auto& dead = holder == "replica-a" ? a : b;
  auto& survivor = holder == "replica-a" ? b : a;
  const std::string survivor_id = holder == "replica-a" ? "replica-b" : "replica-a";
  // The other replica describes its progress while it runs (the record, written once a second).
  std::size_t seen = 0;
  for (const auto deadline = Clock::now() + 5s; Clock::now() < deadline && seen == 0;
       std::this_thread::sleep_for(50ms)) {
    const json t = task_at(survivor->url(), id);
    if (t.is_object() && t["state"] == "running") seen = t["tokens_out"].get<std::size_t>();
  }
  EXPECT_GT(seen, 0u) << "no progress seen through " << survivor_id;
  dead->signal(SIGKILL);
  dead->wait_exit(5s);

  // Within the entry's life (2 s) and a heartbeat, the survivor ends it, saying who died.
  const Events stream = read_events(survivor->url() + path);
  expect_whole_stream(stream);
  ASSERT_EQ(stream.events.back().event, "error");
  EXPECT_EQ(stream.data.back()["code"], "ORCHESTRATOR_LOST");
  EXPECT_NE(stream.data.back()["message"].get<std::string>().find(holder), std::string::npos);
  EXPECT_TRUE(survivor->wait_for_event(
      [&](const narration::Event& e) { return e.action == "replica_lost" && e.target == id; }, 1s));
  const json t = task_at(survivor->url(), id);
  EXPECT_EQ(t["state"], "failed");
  EXPECT_EQ(t["error"]["code"], "ORCHESTRATOR_LOST");
  EXPECT_EQ(t["replica"], survivor_id);

  // The worker is free again and new work runs through the survivor.
  const auto next =
      call("POST", survivor->url() + "/v2/tasks", {{"prompt", "Once"}, {"max_tokens", 8}});
  ASSERT_EQ(next.status, 202u) << next.body;
  const Events done =
      read_events(survivor->url() + json::parse(next.body)["events_url"].get<std::string>());
  ASSERT_FALSE(done.events.empty());
  EXPECT_EQ(done.events.back().event, "end");
}

TEST(Replicas, TheSharedQueueIsBoundedAndAnyReplicaCancelsATaskWhereverItIs) {
  Cluster cluster;
  ASSERT_FALSE(cluster.nats.url().empty());
  auto a = cluster.replica("replica-a", 2);
  auto b = cluster.replica("replica-b", 2);
  const json quick{{"prompt", "Once"}, {"max_tokens", 8}, {"on_disconnect", "continue"}};

  // Two places in the queue, shared: the third task is refused whichever replica it reaches.
  const auto first = call("POST", a->url() + "/v2/tasks", quick);
  const auto second = call("POST", b->url() + "/v2/tasks", quick);
  ASSERT_EQ(first.status, 202u) << first.body;
  ASSERT_EQ(second.status, 202u) << second.body;
  EXPECT_EQ(json::parse(second.body)["queue_position"], 2);
  const auto third = call("POST", a->url() + "/v2/tasks", quick);
  EXPECT_EQ(third.status, 429u) << third.body;
  EXPECT_EQ(third.headers.count("retry-after"), 1u);
  const json refusal = json::parse(third.body);
  record_received("error", refusal);
  EXPECT_EQ(refusal["error"]["code"], "QUEUE_FULL");
  EXPECT_NE(refusal["error"]["message"].get<std::string>().find("2 of 2 waiting"),
            std::string::npos);

  // Either replica lists the shared queue in order, whoever admitted each task (its copy of the
  // records follows the bucket: a moment behind).
  json listed;
  for (const auto deadline = Clock::now() + 5s; Clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
    listed = json::parse(call("GET", b->url() + "/v2/tasks").body);
    if (listed["tasks"].size() == 2) break;
  }
  ASSERT_EQ(listed["tasks"].size(), 2u) << listed.dump();
  EXPECT_EQ(listed["tasks"][0]["job_id"], json::parse(first.body)["job_id"]);
  EXPECT_EQ(listed["tasks"][0]["queue_position"], 1);
  EXPECT_EQ(listed["tasks"][1]["queue_position"], 2);
  EXPECT_EQ(listed["tasks"][1]["state"], "queued");

  // Cancelled through B while it waits in the queue it was put in through A.
  const std::string first_id = json::parse(first.body)["job_id"];
  const auto cancelled = call("DELETE", b->url() + "/v2/tasks/" + first_id);
  EXPECT_EQ(cancelled.status, 202u) << cancelled.body;
  const Events ended = read_events(a->url() + "/v2/tasks/" + first_id + "/events");
  expect_whole_stream(ended);
  EXPECT_EQ(ended.events.back().event, "end");
  EXPECT_EQ(ended.data.back()["stop_reason"], "CANCELLED");
  EXPECT_EQ(call("DELETE", a->url() + "/v2/tasks/" + first_id).status, 200u) << "already ended";
  EXPECT_EQ(call("GET", a->url() + "/v2/tasks/task-unknown").status, 404u);

  // The other one runs once a worker comes; a long one is then cancelled through the replica
  // that does not hold it.
  auto pool = cluster.pool();
  const std::string second_id = json::parse(second.body)["job_id"];
  const Events second_stream = read_events(b->url() + "/v2/tasks/" + second_id + "/events");
  EXPECT_EQ(second_stream.events.back().event, "end");
  const std::string long_id = start_long_task(a->url())["job_id"];
  const std::string holder = holder_of(a->url(), long_id);
  ASSERT_FALSE(holder.empty()) << "no replica ran it";
  const auto& other = holder == "replica-a" ? b : a;
  EXPECT_EQ(call("DELETE", other->url() + "/v2/tasks/" + long_id).status, 202u);
  const Events long_stream = read_events(other->url() + "/v2/tasks/" + long_id + "/events");
  expect_whole_stream(long_stream);
  EXPECT_EQ(long_stream.data.back()["stop_reason"], "CANCELLED");
}

TEST(Replicas, ATaskNoReplicaCanRunEndsAtTheQueueTimeout) {
  Cluster cluster;
  ASSERT_FALSE(cluster.nats.url().empty());
  auto a = cluster.replica("replica-a", 64, 1);
  auto b = cluster.replica("replica-b", 64, 1);
  const auto created = call("POST", a->url() + "/v2/tasks", {{"prompt", "Once"}});
  ASSERT_EQ(created.status, 202u) << created.body;
  const Events stream =
      read_events(b->url() + json::parse(created.body)["events_url"].get<std::string>());
  expect_whole_stream(stream);
  EXPECT_EQ(stream.data.back()["code"], "QUEUE_TIMEOUT");
  EXPECT_NE(stream.data.back()["message"].get<std::string>().find("shared queue"),
            std::string::npos);
}

TEST(Replicas, AStoppingReplicaHandsItsWaitingTasksBackAndAnotherRunsThem) {
  Cluster cluster;
  ASSERT_FALSE(cluster.nats.url().empty());
  auto a = cluster.replica("replica-a");
  auto pool = cluster.pool();
  ASSERT_TRUE(ready_worker_at(a->url(), 30s));
  // A keeps the single slot busy; B, started after, believes it free, takes the next task and
  // is refused (SLOTS_BUSY): the task waits on B.
  const std::string busy = start_long_task(a->url())["job_id"];
  ASSERT_EQ(holder_of(a->url(), busy), "replica-a");
  auto b = cluster.replica("replica-b");
  ASSERT_TRUE(ready_worker_at(b->url(), 10s, true)) << "B knows the worker (busy with A's task)";
  const auto created = call("POST", a->url() + "/v2/tasks",
                            {{"prompt", "Once"}, {"max_tokens", 8}, {"on_disconnect", "continue"}});
  ASSERT_EQ(created.status, 202u) << created.body;
  const std::string id = json::parse(created.body)["job_id"];
  ASSERT_TRUE(b->wait_for_event(
      [&](const narration::Event& e) {
        return e.job_id == id && e.human.find("SLOTS_BUSY") != std::string::npos;
      },
      10s));

  // SIGTERM: B puts it back rather than end it, and leaves.
  b->signal(SIGTERM);
  EXPECT_EQ(b->wait_exit(10s), 0);
  EXPECT_EQ(call("DELETE", a->url() + "/v2/tasks/" + busy).status, 202u);
  const Events stream =
      read_events(a->url() + json::parse(created.body)["events_url"].get<std::string>());
  expect_whole_stream(stream);
  EXPECT_EQ(stream.events.back().event, "end");
  EXPECT_EQ(stream.data.back()["stop_reason"], "MAX_TOKENS");
  EXPECT_TRUE(narrated(stream, "task_queued", "Replica replica-b is stopping"));
  EXPECT_TRUE(narrated(stream, "task_claimed", "Replica replica-a took task " + id));
}

TEST(Replicas, ANatsThatHangsHoldsUpNoRequestThatDoesNotNeedIt) {
  Serving serving;
  ASSERT_TRUE(serving.ready);
  auto& a = serving.a;
  // NATS stops answering (connections open, nothing said): an admission waits for it …
  serving.cluster.nats.pause();
  struct Resume {
    NatsServer& nats;
    ~Resume() { nats.resume(); }
  } resume{serving.cluster.nats};
  auto admission = std::async(std::launch::async, [&] {
    return call("POST", a->url() + "/v2/tasks", {{"prompt", "Once"}, {"max_tokens", 8}});
  });
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(admission.wait_for(0s), std::future_status::timeout) << "it did not wait for NATS";
  // … and meanwhile the replica answers everything else at once.
  for (const char* path : {"/health", "/metrics", "/v1/pools", "/v1/models"}) {
    const auto started = Clock::now();
    EXPECT_EQ(call("GET", a->url() + path).status, 200u) << path;
    EXPECT_LT(Clock::now() - started, 1s) << path << " waited behind the admission";
  }
  // NATS back: the admission is answered (admitted, or 503 with Retry-After if it gave up).
  serving.cluster.nats.resume();
  const auto answer = admission.get();
  EXPECT_TRUE(answer.status == 202u || answer.status == 503u) << answer.status << answer.body;
  const auto created =
      call("POST", a->url() + "/v2/tasks", {{"prompt", "Once"}, {"max_tokens", 8}});
  ASSERT_EQ(created.status, 202u) << created.body;
  const Events stream =
      read_events(a->url() + json::parse(created.body)["events_url"].get<std::string>());
  expect_whole_stream(stream);
}

// The clients' connections as NATS lists them, by name (sorted).
std::vector<std::string> connection_names(const NatsServer& nats) {
  const json connz = json::parse(call("GET", nats.monitor_url() + "/connz").body, nullptr, false);
  std::vector<std::string> names;
  for (const auto& c : connz.value("connections", json::array()))
    names.push_back(c.value("name", "(unnamed)"));
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Replicas, TheyRideOutANatsRestartSayingSoMeanwhile) {
  Serving serving;
  ASSERT_TRUE(serving.ready);
  auto& a = serving.a;
  auto& b = serving.b;
  const json quick{{"prompt", "Once"}, {"max_tokens", 8}};
  // One connection a process, named after its role and id (what an operator reads on /connz).
  const std::vector<std::string> clients{"llorch orchestrator replica-a",
                                         "llorch orchestrator replica-b",
                                         "llorch pool-manager p-shared"};
  EXPECT_EQ(connection_names(serving.cluster.nats), clients);

  // While NATS is down, admission says so (503 with Retry-After) rather than hang or lose it.
  serving.cluster.nats.stop();
  const auto refused = call("POST", a->url() + "/v2/tasks", quick);
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_EQ(refused.headers.count("retry-after"), 1u);
  const json refusal = json::parse(refused.body, nullptr, false);
  record_received("error", refusal);
  EXPECT_EQ(refusal["error"]["code"], "STATE_UNAVAILABLE");

  // Back on the same port and store: the replicas reconnect and tasks run again, the queue,
  // records and registry as they were.
  ASSERT_TRUE(serving.cluster.nats.restart());
  net::ClientResponse created;
  for (const auto deadline = Clock::now() + 15s; Clock::now() < deadline;
       std::this_thread::sleep_for(200ms)) {
    created = call("POST", a->url() + "/v2/tasks", quick);
    if (created.status == 202) break;
  }
  ASSERT_EQ(created.status, 202u) << created.body;
  const Events stream =
      read_events(b->url() + json::parse(created.body)["events_url"].get<std::string>());
  expect_whole_stream(stream);
  EXPECT_EQ(stream.events.back().event, "end");
  EXPECT_EQ(connection_names(serving.cluster.nats), clients) << "each reconnected, once";
}

TEST(Replicas, TwoReplicasSharingOneSingleSlotWorkerCompleteEveryTask) {
  Serving serving;
  ASSERT_TRUE(serving.ready);
  auto& a = serving.a;
  auto& b = serving.b;

  // Each replica counts only its own tasks against the worker's one slot: they collide, the
  // worker says SLOTS_BUSY, and the task waits for the slot instead of failing.
  std::vector<std::string> paths;
  for (int i = 0; i < 8; ++i) {
    const auto& replica = i % 2 == 0 ? a : b;
    const auto created = call("POST", replica->url() + "/v2/tasks",
                              {{"prompt", "Once"},
                               {"max_tokens", 1500},
                               {"ignore_eos", true},
                               {"on_disconnect", "continue"}});
    ASSERT_EQ(created.status, 202u) << created.body;
    paths.push_back(replica->url() + json::parse(created.body)["events_url"].get<std::string>());
  }
  for (const auto& path : paths) {
    const Events stream = read_events(path);
    expect_whole_stream(stream);
    EXPECT_EQ(stream.events.back().event, "end") << stream.data.back().dump();
  }
}

TEST(Replicas, OnAClusterOfThreeNatsServersTheyRideOutTheLossOfOne) {
  NatsCluster nats(kNatsToken);
  ASSERT_FALSE(nats.url().empty()) << "the three NATS servers did not form a cluster";
  // Entries live the default 15 s: longer than the cluster takes to elect new leaders, so no
  // replica or pool is given up for dead meanwhile.
  const std::vector<std::string> state{"--state", nats.url(), "--state-replicas", "3"};
  WorkersFile workers;
  auto a = replica_on(state, "replica-a");
  auto b = replica_on(state, "replica-b");
  auto pool = workers.pool_on(state);
  ASSERT_TRUE(ready_worker_at(a->url(), 30s));
  ASSERT_TRUE(ready_worker_at(b->url(), 10s));
  for (const char* stream : {"LLORCH_QUEUE", "LLORCH_EVENTS", "KV_llorch_tasks",
                             "KV_llorch_replicas", "KV_llorch_pools"})
    EXPECT_EQ(nats.replicas_of(stream), 3) << stream << " is kept on every server";
  EXPECT_TRUE(a->wait_for_event(
      [](const narration::Event& e) {
        return e.action == "server_start" && e.human.find("on 3 servers") != std::string::npos;
      },
      1s))
      << "the replica says where its state is kept";
  const json quick{{"prompt", "Once"}, {"max_tokens", 8}};
  const auto run_through = [&](LlorchProcess& admit, LlorchProcess& read) {
    net::ClientResponse created;
    for (const auto deadline = Clock::now() + 30s; Clock::now() < deadline;
         std::this_thread::sleep_for(200ms)) {
      created = call("POST", admit.url() + "/v2/tasks", quick);
      if (created.status == 202) break;
      // While the cluster elects new leaders: said, with when to come back.
      EXPECT_EQ(created.status, 503u) << created.body;
      EXPECT_EQ(created.headers.count("retry-after"), 1u);
    }
    EXPECT_EQ(created.status, 202u) << created.body;
    if (created.status != 202) return;
    // The reader is told the same while the other replica cannot read the state yet.
    const std::string id = json::parse(created.body)["job_id"];
    net::ClientResponse described;
    for (const auto deadline = Clock::now() + 30s; Clock::now() < deadline;
         std::this_thread::sleep_for(200ms)) {
      described = call("GET", read.url() + "/v2/tasks/" + id);
      if (described.status == 200) break;
      EXPECT_EQ(described.status, 503u) << described.body;
    }
    ASSERT_EQ(described.status, 200u) << described.body;
    Events stream;
    for (const auto deadline = Clock::now() + 30s; Clock::now() < deadline && stream.events.empty();
         std::this_thread::sleep_for(200ms))
      stream = read_events(read.url() + "/v2/tasks/" + id + "/events");  // none: a 503
    expect_whole_stream(stream);
    if (!stream.events.empty()) {
      EXPECT_EQ(stream.events.back().event, "end");
    }
  };
  SCOPED_TRACE("before");
  run_through(*a, *b);

  // The server leading the event stream dies without a word; the others take over.
  const int victim = nats.leader_of("LLORCH_EVENTS");
  ASSERT_GE(victim, 0);
  nats.server(static_cast<std::size_t>(victim)).kill();
  SCOPED_TRACE("after, a to b");
  run_through(*a, *b);
  SCOPED_TRACE("after, b to a");
  run_through(*b, *a);
}

}  // namespace
}  // namespace llorch::testing
