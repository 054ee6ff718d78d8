// Pools registered through the shared NATS substrate: a real `nats-server -js` on 127.0.0.1, two
// `llorch orchestrator --state` replicas reading one registry, a `llorch pool-manager --state`
// with a real worker on stories260K. Both replicas dispatch to the pool; a pool whose heartbeats
// stop (SIGSTOP) leaves both registries within the entry's lifetime and comes back when it
// resumes; wrong credentials and a malformed URL are refused with their reason.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "llorch_process.hpp"
#include "nats_server.hpp"

namespace llorch::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kNatsToken = "nats-token-for-the-tests-0123456789";
const std::string kPoolToken = "pool-token-for-the-tests-0123456789";

json get(const std::string& url) {
  net::ClientRequest r{.method = "GET", .url = url};
  return json::parse(net::http_call(r).body, nullptr, false);
}

// Waits until `accept` holds for the orchestrator's pool list (false after `within`).
bool wait_for_pools(const std::string& orchestrator, const std::function<bool(const json&)>& accept,
                    std::chrono::milliseconds within) {
  const auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    const json pools = get(orchestrator + "/v1/pools");
    if (pools.is_object() && accept(pools["pools"])) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool has_ready_worker(const json& pools) {
  for (const auto& p : pools)
    for (const auto& w : p["workers"])
      if (w["state"] == "ready") return true;
  return false;
}

// A task through `orchestrator`, read to its terminal event: that event's type.
std::string run_task(const std::string& orchestrator) {
  net::ClientRequest post{.method = "POST",
                          .url = orchestrator + "/v2/tasks",
                          .body = json{{"prompt", "Once upon a time"}, {"max_tokens", 8}}.dump()};
  const auto created = net::http_call(post);
  if (created.status != 202) return "HTTP " + std::to_string(created.status);
  net::ClientRequest events{
      .method = "GET",
      .url = orchestrator + json::parse(created.body)["events_url"].get<std::string>()};
  std::string last;
  api::SseParser parser;
  net::http_call(events, [&](const net::ClientResponse&, std::string_view chunk) {
    for (auto& e : parser.feed(chunk)) last = e.event;
    return true;
  });
  return last;
}

fs::path pool_config() {
  const fs::path file =
      fs::temp_directory_path() / ("llorch-nats-pool-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(file) << "heartbeat_interval_ms = 200\n[[workers]]\nmodel = \"" << model_path()
                      << "\"\n";
  return file;
}

TEST(NatsRegistry, TwoOrchestratorsShareOnePoolAndForgetItWhenItsHeartbeatsStop) {
  NatsServer nats(kNatsToken);
  ASSERT_FALSE(nats.url().empty()) << "nats-server did not start (is it installed?)";
  const std::vector<std::pair<std::string, std::string>> env{{"LLORCH_NATS_TOKEN", kNatsToken},
                                                             {"LLORCH_POOL_TOKEN", kPoolToken}};
  const std::vector<std::string> state{"--state", nats.url(), "--registry-ttl-ms", "2000"};
  const auto orchestrator = [&] {
    std::vector<std::string> argv{"orchestrator", "--port", "0"};
    argv.insert(argv.end(), state.begin(), state.end());
    return std::make_unique<LlorchProcess>(argv, env);
  };
  auto a = orchestrator();
  auto b = orchestrator();
  const fs::path config = pool_config();
  std::vector<std::string> pool_argv{"pool-manager", "--port",       "0", "--pool-id", "p-nats",
                                     "--config",     config.string()};
  pool_argv.insert(pool_argv.end(), state.begin(), state.end());
  LlorchProcess pool(pool_argv, env);

  for (auto* o : {a.get(), b.get()})
    ASSERT_TRUE(wait_for_pools(o->url(), has_ready_worker, 20s)) << "no ready worker seen";
  EXPECT_EQ(run_task(a->url()), "end");
  EXPECT_EQ(run_task(b->url()), "end");
  EXPECT_TRUE(pool.wait_for_action("pool_register", 1s)) << "the pool narrated its registration";

  // Heartbeats stop: the entry expires (2 s) and both replicas forget the pool.
  pool.signal(SIGSTOP);
  const auto empty = [](const json& pools) { return pools.empty(); };
  EXPECT_TRUE(wait_for_pools(a->url(), empty, 5s));
  EXPECT_TRUE(wait_for_pools(b->url(), empty, 5s));
  EXPECT_TRUE(a->wait_for_event(
      [](const narration::Event& e) {
        return e.action == "pool_deregister" && e.target == "p-nats" &&
               e.human.find("left the registry") != std::string::npos;
      },
      1s));
  // They resume: it is back.
  pool.signal(SIGCONT);
  EXPECT_TRUE(wait_for_pools(a->url(), has_ready_worker, 5s));
  EXPECT_EQ(run_task(a->url()), "end");

  // A goodbye removes it at once, without waiting for the entry to expire.
  pool.signal(SIGTERM);
  EXPECT_EQ(pool.wait_exit(10s), 0);
  EXPECT_TRUE(wait_for_pools(b->url(), empty, 1500ms));

  // No secret in any log line: the NATS token, the pool token, the workers' tokens (which the
  // registry entries carry) stay out of every process's narration.
  for (auto* process : {a.get(), b.get(), &pool}) {
    for (const auto& line : process->raw_lines()) {
      EXPECT_EQ(line.find(kNatsToken), std::string::npos) << line;
      EXPECT_EQ(line.find(kPoolToken), std::string::npos) << line;
      EXPECT_EQ(line.find("\"secret\""), std::string::npos) << line;
    }
  }
  std::error_code ignored;
  fs::remove(config, ignored);
}

TEST(NatsRegistry, WrongCredentialsAndAMalformedUrlAreRefusedWithTheReason) {
  NatsServer nats(kNatsToken);
  ASSERT_FALSE(nats.url().empty());
  // An orchestrator's tasks live there: it cannot serve without it, and says why at once.
  LlorchProcess wrong({"orchestrator", "--port", "0", "--state", nats.url()},
                      {{"LLORCH_NATS_TOKEN", "not-the-token"}}, false);
  EXPECT_EQ(wrong.wait_exit(10s), 7);
  EXPECT_TRUE(wrong.wait_for_event(
      [](const narration::Event& e) {
        return e.error_kind == "STATE_UNAVAILABLE" &&
               e.human.find("Cannot share tasks on NATS") != std::string::npos &&
               e.human.find("LLORCH_NATS_TOKEN") != std::string::npos;
      },
      1s));
  // A pool manager keeps running and retrying: its workers serve whoever can reach them.
  LlorchProcess pool({"pool-manager", "--port", "0", "--state", nats.url()},
                     {{"LLORCH_NATS_TOKEN", "not-the-token"}});
  EXPECT_TRUE(pool.wait_for_event(
      [](const narration::Event& e) {
        return e.error_kind == "ORCHESTRATOR_UNREACHABLE" &&
               e.human.find("Authorization") != std::string::npos;
      },
      5s));
  EXPECT_TRUE(pool.running());

  LlorchProcess malformed({"orchestrator", "--port", "0", "--state", "http://127.0.0.1:4222"}, {},
                          false);
  EXPECT_EQ(malformed.wait_exit(5s), 1);
  LlorchProcess both({"pool-manager", "--port", "0", "--state", nats.url(), "--orchestrator",
                      "http://127.0.0.1:1"},
                     {}, false);
  EXPECT_EQ(both.wait_exit(5s), 2) << "--state and --orchestrator exclude each other";
}

}  // namespace
}  // namespace llorch::testing
