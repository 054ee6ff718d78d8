// A hostile client against `llorch serve`: every request that once aborted the orchestrator
// (nested values of unexpected types, too many or too large messages, a very long prompt, deep
// nesting) is a 4xx naming the problem, and the server answers normally afterwards. Oversized
// bodies and headers, client-chosen task ids and negative Last-Event-IDs are refused.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "security_support.hpp"

namespace llorch::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

void expect_alive_and_serving(const std::string& url) {
  const auto health = request("GET", url + "/health");
  EXPECT_EQ(health.status, 200u) << health.body;
  const auto answer = request(
      "POST", url + "/v1/completions",
      json{{"model", "stories260K"}, {"prompt", "Once"}, {"max_tokens", 4}, {"temperature", 0}}
          .dump());
  EXPECT_EQ(answer.status, 200u) << answer.body;
}

TEST(HostileClient, NoRequestBodyBringsTheOrchestratorDown) {
  Serve serve;
  const std::string url = serve.process.url();
  const std::string big(300 * 1024, 'a');
  json many_messages = json::array();
  for (int i = 0; i < 300; ++i) many_messages.push_back({{"role", "user"}, {"content", "x"}});
  std::string deep = std::string(100000, '[') + std::string(100000, ']');

  struct Case {
    const char* path;
    std::string body;
    const char* field;  // a failing field the answer must name
  };
  const std::vector<Case> cases{
      {"/v1/chat/completions",
       json{{"model", "stories260K"},
            {"messages", {{{"role", "user"}, {"content", {{{"type", 5}, {"text", 7}}}}}}}}
           .dump(),
       "messages[0].content"},
      {"/v1/chat/completions",
       json{{"model", "stories260K"},
            {"messages", {{{"role", "user"}, {"content", "hi"}}}},
            {"response_format", {{"type", {1, 2}}}}}
           .dump(),
       "response_format"},
      {"/v1/chat/completions",
       json{{"model", "stories260K"},
            {"messages", {{{"role", "user"}, {"content", "hi"}}}},
            {"stream_options", {{"include_usage", "yes"}}}}
           .dump(),
       "stream_options"},
      {"/v1/chat/completions", json{{"model", "stories260K"}, {"messages", many_messages}}.dump(),
       "messages"},
      {"/v1/chat/completions",
       json{{"model", "stories260K"}, {"messages", {{{"role", "user"}, {"content", big}}}}}.dump(),
       "messages"},
      {"/v1/completions", json{{"model", "stories260K"}, {"prompt", big}}.dump(), "prompt"},
      {"/v1/completions", deep, ""},
      {"/v1/chat/completions", deep, ""},
      {"/v2/tasks", deep, ""},
      {"/v2/tasks", json{{"prompt", big}}.dump(), "prompt"},
      {"/v2/tasks", json{{"messages", many_messages}}.dump(), "messages"},
      {"/v2/tasks", json{{"prompt", "x"}, {"stop", {{{"a", 1}}}}}.dump(), "stop[0]"},
  };
  for (const auto& c : cases) {
    const auto answer = request("POST", url + c.path, c.body);
    EXPECT_EQ(answer.status, 400u) << c.path << " " << c.body.substr(0, 120) << "\n" << answer.body;
    const auto error = json::parse(answer.body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << answer.body;
    bool named = false;
    for (const auto& d : error["error"]["details"]) named = named || d["field"] == c.field;
    EXPECT_TRUE(named) << c.field << " not named in " << answer.body.substr(0, 400);
    ASSERT_TRUE(serve.process.running())
        << "the server died on " << c.path << " " << c.body.substr(0, 120);
  }
  expect_alive_and_serving(url);
}

TEST(HostileClient, SecretsInFieldNamesAndValuesNeverReachTheLog) {
  Serve serve;
  const std::string key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
  const std::string aws = "AKIAIOSFODNN7EXAMPLE";
  const auto answer = request("POST", serve.process.url() + "/v2/tasks",
                              json{{"prompt", "Hi"}, {key, 1}, {"stop", {aws, 5}}}.dump());
  EXPECT_EQ(answer.status, 400u) << answer.body;
  ASSERT_TRUE(serve.process.wait_for_action("validation_failed", 5s));
  bool named = false;
  for (const auto& line : serve.process.raw_lines()) {
    EXPECT_EQ(line.find(key), std::string::npos) << line;
    EXPECT_EQ(line.find(aws), std::string::npos) << line;
    named = named || line.find("[REDACTED API KEY]") != std::string::npos;
  }
  EXPECT_TRUE(named) << "the unknown field is named, redacted, in the validation narration";
}

TEST(HostileClient, TaskIdsAreNotTheClientsToChooseAndLastEventIdMustBeANumber) {
  Serve serve;
  const std::string url = serve.process.url();
  const auto squat = request("POST", url + "/v2/tasks", R"({"prompt":"Hi","job_id":"task-1"})");
  EXPECT_EQ(squat.status, 400u) << squat.body;
  EXPECT_NE(squat.body.find("job_id"), std::string::npos);

  const auto created = request("POST", url + "/v2/tasks", R"({"prompt":"Hi","max_tokens":2})");
  ASSERT_EQ(created.status, 202u) << created.body;
  const std::string id = json::parse(created.body)["job_id"];
  EXPECT_EQ(id.rfind("task-", 0), 0u);
  for (const char* last : {"-1", "+1", "1e3", "0x10", "99999999999999999999"}) {
    const auto answer =
        request("GET", url + "/v2/tasks/" + id + "/events", "", {{"Last-Event-ID", last}});
    EXPECT_EQ(answer.status, 400u) << "Last-Event-ID: " << last << " " << answer.body;
  }
}

// A plain TCP connection to the server at `url` (http://127.0.0.1:port), for bytes no HTTP client
// would send; -1 when it cannot connect.
int connect_raw(const std::string& url) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(net::parse_url(url).port);
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A non-streamed completion whose client hangs up while its task waits in the queue: the task is
// cancelled (narrated) and never runs.
TEST(HostileClient, ANonStreamedClientThatHangsUpCancelsItsQueuedTask) {
  Serve serve({"--ctx", "32768"});
  const std::string url = serve.process.url();
  const auto busy =
      request("POST", url + "/v2/tasks",
              json{{"prompt", "Once"}, {"max_tokens", 30000}, {"ignore_eos", true}}.dump());
  ASSERT_EQ(busy.status, 202u) << busy.body;
  const int fd = connect_raw(url);
  ASSERT_GE(fd, 0);
  const std::string body = R"({"model":"stories260K","prompt":"Hi","max_tokens":8})";
  const std::string message =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, message.data(), message.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(message.size()));
  ASSERT_TRUE(serve.process.wait_for_event(
      [](const narration::Event& e) {
        return e.action == "task_queued" && e.job_id.rfind("cmpl-", 0) == 0;
      },
      5s));
  ::close(fd);
  const auto cancelled = serve.process.wait_for_event(
      [](const narration::Event& e) {
        return e.action == "task_cancelled" && e.job_id.rfind("cmpl-", 0) == 0;
      },
      5s);
  ASSERT_TRUE(cancelled) << "the queued task outlived its client";
  EXPECT_NE(cancelled->human.find("the client disconnected"), std::string::npos);
  // Free the worker: the cancelled task must not run after the busy one.
  request("DELETE", url + "/v2/tasks/" + json::parse(busy.body)["job_id"].get<std::string>(), "");
  std::this_thread::sleep_for(300ms);
  for (const auto& e : serve.process.events()) {
    EXPECT_FALSE(e.action == "task_dispatched" && e.job_id.rfind("cmpl-", 0) == 0) << e.human;
  }
}

// A raw connection: headers claiming a huge body, then bytes for as long as the server reads.
TEST(HostileClient, AnOversizedBodyIsAnsweredAndTheConnectionClosedAtOnce) {
  Serve serve;
  const int fd = connect_raw(serve.process.url());
  ASSERT_GE(fd, 0);
  const std::string head =
      "POST /v2/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 52428800\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  const std::string chunk(64 * 1024, 'x');
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  while (std::chrono::steady_clock::now() - start < 10s) {
    if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) {
      closed = true;
      break;
    }
  }
  char answer[512] = {};
  const auto got = ::recv(fd, answer, sizeof answer - 1, MSG_DONTWAIT);
  ::close(fd);
  EXPECT_TRUE(closed) << "the server kept reading the body for 10 s";
  if (got > 0) {
    EXPECT_NE(std::string(answer).find("413"), std::string::npos) << answer;
  }
  EXPECT_TRUE(serve.process.running());
}

TEST(HostileClient, HugeHeadersAre431) {
  Serve serve;
  const auto answer = request("GET", serve.process.url() + "/health", "",
                              {{"X-Padding", std::string(32 * 1024, 'p')}});
  EXPECT_EQ(answer.status, 431u) << answer.body;
  expect_alive_and_serving(serve.process.url());
}

}  // namespace
}  // namespace llorch::testing
