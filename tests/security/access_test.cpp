// Tokenless access to every endpoint of every process, and what each token opens: API keys (one
// per client, from a file read again when it changes) with tasks owned by their key; the pool
// token for registration; the pool manager's token; each worker's own secret.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "security_support.hpp"

namespace llorch::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kAlice = "alice-key-0123456789abcdef";
const std::string kBob = "bob-key-0123456789abcdef00";
const std::string kPoolToken = "pool-token-0123456789abcdef";
const std::string kMetricsToken = "metrics-token-0123456789ab";

struct TempFile {
  explicit TempFile(const std::string& text)
      : path(fs::temp_directory_path() /
             ("llorch-keys-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()))) {
    write(text);
  }
  ~TempFile() {
    std::error_code ignored;
    fs::remove(path, ignored);
  }
  void write(const std::string& text) const { std::ofstream(path) << text; }
  fs::path path;
};

struct Endpoint {
  std::string method;
  std::string path;
  std::string body;
};

// Every endpoint of the orchestrator but /health.
const std::vector<Endpoint> kOrchestratorEndpoints{
    {"POST", "/v2/tasks", R"({"prompt":"Hi"})"},
    {"GET", "/v2/tasks/task-x", ""},
    {"DELETE", "/v2/tasks/task-x", ""},
    {"GET", "/v2/tasks/task-x/events", ""},
    {"POST", "/v1/completions", R"({"model":"m","prompt":"Hi"})"},
    {"POST", "/v1/chat/completions", R"({"model":"m","messages":[]})"},
    {"GET", "/v1/models", ""},
    {"GET", "/v1/pools", ""},
    {"POST", "/v1/pools", R"({"pool_id":"evil","url":"http://127.0.0.1:1","workers":[]})"},
    {"POST", "/v1/pools/evil/heartbeat", R"({"pool_id":"evil","workers":[]})"},
    {"DELETE", "/v1/pools/evil", ""},
    {"GET", "/metrics", ""},
    {"GET", "/no/such/endpoint", ""},
};

TEST(Access, EveryOrchestratorEndpointButHealthNeedsAToken) {
  TempFile keys("# clients\nalice:" + kAlice + "\nbob:" + kBob + "\n");
  LlorchProcess orchestrator(
      {"orchestrator", "--port", "0", "--api-keys-file", keys.path.string(), "--metrics-token-env",
       "TEST_METRICS_TOKEN"},
      {{"LLORCH_ORCHESTRATOR_TOKEN", kPoolToken}, {"TEST_METRICS_TOKEN", kMetricsToken}});
  const std::string url = orchestrator.url();
  for (const auto& e : kOrchestratorEndpoints) {
    for (const auto& headers : {net::Headers{}, bearer("not-a-key-0123456789")}) {
      const auto answer = request(e.method, url + e.path, e.body, headers);
      EXPECT_EQ(answer.status, 401u) << e.method << " " << e.path << ": " << answer.body;
      EXPECT_EQ(
          answer.headers.count("www-authenticate") ? answer.headers.at("www-authenticate") : "",
          "Bearer")
          << e.path;
    }
  }
  EXPECT_EQ(request("GET", url + "/health").status, 200u);
  // What each token opens, and no more.
  EXPECT_EQ(request("GET", url + "/metrics", "", bearer(kMetricsToken)).status, 200u);
  EXPECT_EQ(request("GET", url + "/v1/models", "", bearer(kMetricsToken)).status, 401u);
  EXPECT_EQ(request("GET", url + "/metrics", "", bearer(kAlice)).status, 200u);
  EXPECT_EQ(request("POST", url + "/v1/pools",
                    R"({"pool_id":"evil","url":"http://127.0.0.1:1","workers":[]})", bearer(kAlice))
                .status,
            401u)
      << "an API key must not register pools";
  EXPECT_EQ(request("POST", url + "/v2/tasks", R"({"prompt":"Hi"})", bearer(kPoolToken)).status,
            401u)
      << "the pool token is not an API key";
  EXPECT_EQ(request("GET", url + "/v1/models", "", {{"Authorization", "bearer " + kAlice}}).status,
            200u)
      << "the scheme is case-insensitive";
  EXPECT_EQ(request("GET", url + "/v1/models", "", bearer(kAlice + "x")).status, 401u);
  EXPECT_EQ(request("GET", url + "/v1/models", "", bearer(kAlice.substr(0, 10))).status, 401u);
}

TEST(Access, ATaskBelongsToTheKeyThatCreatedIt) {
  TempFile keys("alice:" + kAlice + "\nbob:" + kBob + "\n");
  LlorchProcess orchestrator(
      {"orchestrator", "--port", "0", "--api-keys-file", keys.path.string()});
  const std::string url = orchestrator.url();
  const auto created = request("POST", url + "/v2/tasks", R"({"prompt":"Hi"})", bearer(kAlice));
  ASSERT_EQ(created.status, 202u) << created.body;  // queued: no pool
  const std::string id = json::parse(created.body)["job_id"];
  EXPECT_EQ(request("GET", url + "/v2/tasks/" + id, "", bearer(kAlice)).status, 200u);
  for (const auto& [method, tail] : std::vector<std::pair<std::string, std::string>>{
           {"GET", ""}, {"GET", "/events"}, {"DELETE", ""}}) {
    const auto answer = request(method, url + "/v2/tasks/" + id + tail, "", bearer(kBob));
    EXPECT_EQ(answer.status, 404u) << method << tail << ": " << answer.body;
  }
  EXPECT_EQ(request("GET", url + "/v2/tasks/" + id, "", bearer(kAlice)).status, 200u)
      << "bob's DELETE must not have touched it";

  // The key file is read again when it changes: carol can come in, bob can be let go.
  const std::string carol = "carol-key-0123456789abcdef";
  std::this_thread::sleep_for(1100ms);
  keys.write("alice:" + kAlice + "\ncarol:" + carol + "\n");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  unsigned status = 0;
  while (std::chrono::steady_clock::now() < deadline && status != 200) {
    status = request("GET", url + "/v1/models", "", bearer(carol)).status;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, 200u) << "carol's key was not read";
  EXPECT_EQ(request("GET", url + "/v1/models", "", bearer(kBob)).status, 401u);
}

TEST(Access, AnUnusableKeyFileStopsTheOrchestratorWithTheReason) {
  TempFile keys("alice:short\n");
  LlorchProcess orchestrator({"orchestrator", "--port", "0", "--api-keys-file", keys.path.string()},
                             {}, false);
  EXPECT_EQ(orchestrator.wait_exit(10s), 1);
}

TEST(Access, ServeTakesNoPoolRegistrationFromOutside) {
  Serve serve;
  const auto answer = request(
      "POST", serve.process.url() + "/v1/pools",
      R"({"pool_id":"evil","url":"http://127.0.0.1:1","workers":[{"id":"w","state":"ready",)"
      R"("url":"http://127.0.0.1:1","model":"/m/stories260K.gguf","slots":64}]})");
  EXPECT_EQ(answer.status, 401u) << answer.body;
  const auto pools = json::parse(request("GET", serve.process.url() + "/v1/pools").body);
  ASSERT_EQ(pools["pools"].size(), 1u) << pools;
  EXPECT_EQ(pools["pools"][0]["pool_id"], "local");
}

std::string write_pool_config() {
  const fs::path file =
      fs::temp_directory_path() / ("llorch-access-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(file) << "[[workers]]\nmodel = \"" << model_path() << "\"\n";
  return file.string();
}

TEST(Access, ThePoolManagerApiAndEachWorkerNeedTheirTokens) {
  const std::string config = write_pool_config();
  LlorchProcess pool({"pool-manager", "--port", "0", "--config", config},
                     {{"LLORCH_POOL_TOKEN", kPoolToken}});
  const std::string url = pool.url();
  const std::vector<Endpoint> endpoints{
      {"GET", "/v1/workers", ""},
      {"POST", "/v1/workers", json{{"model", model_path()}}.dump()},
      {"GET", "/v1/workers/worker-cpu-r1", ""},
      {"DELETE", "/v1/workers/worker-cpu-r1", ""},
      {"GET", "/v1/narration", ""},
      {"GET", "/metrics", ""},
  };
  for (const auto& e : endpoints) {
    const auto answer = request(e.method, url + e.path, e.body, bearer("wrong-token-0123456789"));
    EXPECT_EQ(answer.status, 401u) << e.method << " " << e.path << ": " << answer.body;
    EXPECT_EQ(request(e.method, url + e.path, e.body).status, 401u) << e.path;
  }
  EXPECT_EQ(request("GET", url + "/health").status, 200u);

  // Bounds on what a token holder may ask for.
  for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
           {{{"model", model_path()}, {"slots", 64}}, "slots"},
           {{{"model", model_path()}, {"ctx", 1 << 20}}, "ctx"},
           {{{"model", model_path()}, {"threads", 256}}, "threads"}}) {
    const auto answer = request("POST", url + "/v1/workers", body.dump(), bearer(kPoolToken));
    EXPECT_EQ(answer.status, 400u) << body << ": " << answer.body;
    EXPECT_NE(answer.body.find("LIMIT_EXCEEDED"), std::string::npos) << answer.body;
    EXPECT_NE(answer.body.find("\"" + field + "\""), std::string::npos) << answer.body;
  }

  // The worker: its secret is listed to the pool token's holder only, and asked for.
  json worker;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto list = json::parse(request("GET", url + "/v1/workers", "", bearer(kPoolToken)).body);
    worker = list["workers"][0];
    if (worker["state"] == "ready") break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(worker["state"], "ready") << worker;
  ASSERT_TRUE(worker.contains("secret")) << worker;
  const std::string worker_url = worker["url"];
  const std::string secret = worker["secret"];
  const std::string job = R"({"prompt":"Once","max_tokens":3})";
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {"/execute", job}, {"/cancel", R"({"job_id":"x"})"}, {"/shutdown", ""}}) {
    EXPECT_EQ(request("POST", worker_url + path, body).status, 401u) << path;
    EXPECT_EQ(request("POST", worker_url + path, body, bearer(kPoolToken)).status, 401u) << path;
  }
  const auto streamed = read_stream(worker_url + "/execute", bearer(secret), "POST", job);
  EXPECT_EQ(streamed.status, 200u);
  ASSERT_FALSE(streamed.names.empty());
  EXPECT_EQ(streamed.names.back(), "end");
  // Nobody stopped it: still the same process, ready.
  const auto after =
      json::parse(request("GET", url + "/v1/workers/worker-cpu-r1", "", bearer(kPoolToken)).body);
  EXPECT_EQ(after["pid"], worker["pid"]);
  EXPECT_EQ(after["restarts"], 0);
  std::error_code ignored;
  fs::remove(config, ignored);
}

TEST(Access, APoolManagerWithoutATokenAnswersHealthOnly) {
  const std::string config = write_pool_config();
  LlorchProcess pool({"pool-manager", "--port", "0", "--config", config});
  EXPECT_EQ(request("GET", pool.url() + "/v1/workers").status, 401u);
  EXPECT_EQ(request("GET", pool.url() + "/v1/narration").status, 401u);
  EXPECT_EQ(request("GET", pool.url() + "/health").status, 200u);
  std::error_code ignored;
  fs::remove(config, ignored);
}

}  // namespace
}  // namespace llorch::testing
