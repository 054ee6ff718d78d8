// A hostile upstream: something registered as a pool whose "worker" answers /execute with
// anything — a wrong status, an error body of another shape, garbage, frames that break the
// contract, a stream that closes early. Each user stream still ends with exactly one terminal
// error event, OpenAI answers are still well-formed, and the orchestrator stays up.
#include <gtest/gtest.h>

#include "security_support.hpp"
#include "test_server.hpp"

namespace llorch::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kPoolToken = "pool-token-0123456789abcdef";

// Sends fixed bytes once, then ends the stream.
class FixedFrames final : public net::FrameSource {
 public:
  explicit FixedFrames(std::string bytes) : bytes_(std::move(bytes)) {}
  bool pull(std::string& out) override {
    out += std::exchange(bytes_, "");
    return false;
  }
  void set_wakeup(std::function<void()>) override {}
  void on_disconnect() override {}

 private:
  std::string bytes_;
};

// The fake worker: the prompt names the misbehaviour.
class HostileWorker {
 public:
  HostileWorker()
      : server_([](net::HttpRequest request, std::shared_ptr<net::Exchange> exchange) {
          const auto body = json::parse(request.body, nullptr, false);
          const std::string prompt = body.is_object() ? body.value("prompt", "") : "";
          const auto sse = [&](const std::string& frames) {
            exchange->stream({}, std::make_shared<FixedFrames>(frames));
          };
          if (prompt == "error-body-array") {
            exchange->respond({500, "application/json", R"({"error":["x",{"code":5}]})", {}});
          } else if (prompt == "error-body-code-number") {
            exchange->respond(
                {400, "application/json", R"({"error":{"code":7,"message":[]}})", {}});
          } else if (prompt == "redirect-html") {
            exchange->respond({302, "text/html", "<html>moved</html>", {}});
          } else if (prompt == "garbage-200") {
            sse("\x01\x02 not an event stream at all \xff\xfe\n\n");
          } else if (prompt == "token-not-string") {
            sse("event: token\ndata: {\"type\":\"token\",\"t\":5}\n\n");
          } else if (prompt == "data-not-object") {
            sse("event: narration\ndata: [1,2,3]\n\nevent: end\ndata: {}\n\n");
          } else if (prompt == "unknown-stop-reason") {
            sse("event: token\ndata: {\"type\":\"token\",\"t\":\"hi\"}\n\nevent: end\ndata: "
                "{\"type\":\"end\",\"stop_reason\":\"BECAUSE\"}\n\n");
          } else if (prompt == "error-odd-shape") {
            sse("event: error\ndata: {\"code\":{\"x\":1},\"message\":42}\n\n");
          } else if (prompt == "deep-narration") {
            sse("event: narration\ndata: " + std::string(5000, '[') + std::string(5000, ']') +
                "\n\n");
          } else if (prompt == "unknown-event") {
            sse("event: surprise\ndata: {}\n\n");
          } else {  // closes early: a token, then nothing
            sse("event: token\ndata: {\"type\":\"token\",\"t\":\"hi\"}\n\n");
          }
        }) {}
  std::string url() const { return server_.url(); }

 private:
  TestServer server_;
};

TEST(HostileUpstream, EveryStreamEndsWithOneTerminalErrorAndTheOrchestratorStaysUp) {
  HostileWorker worker;
  LlorchProcess orchestrator({"orchestrator", "--port", "0"},
                             {{"LLORCH_ORCHESTRATOR_TOKEN", kPoolToken}});
  const std::string url = orchestrator.url();
  const json pool{{"pool_id", "evil"},
                  {"url", "http://127.0.0.1:1"},
                  {"workers",
                   {{{"id", "w1"},
                     {"state", "ready"},
                     {"url", worker.url()},
                     {"model", "/models/evil.gguf"},
                     {"slots", 64}}}}};
  ASSERT_EQ(request("POST", url + "/v1/pools", pool.dump(), bearer(kPoolToken)).status, 200u);

  for (const char* prompt :
       {"error-body-array", "error-body-code-number", "redirect-html", "garbage-200",
        "token-not-string", "data-not-object", "unknown-stop-reason", "error-odd-shape",
        "deep-narration", "unknown-event", "closes-early"}) {
    SCOPED_TRACE(prompt);
    const auto created =
        request("POST", url + "/v2/tasks", json{{"prompt", prompt}, {"model", "evil"}}.dump());
    ASSERT_EQ(created.status, 202u) << created.body;
    const auto stream =
        read_stream(url + json::parse(created.body)["events_url"].get<std::string>());
    ASSERT_FALSE(stream.names.empty());
    int terminals = 0;
    for (std::size_t i = 0; i < stream.names.size(); ++i) {
      EXPECT_TRUE(stream.data[i].is_object()) << stream.names[i];
      terminals += stream.names[i] == "end" || stream.names[i] == "error";
    }
    EXPECT_EQ(terminals, 1);
    EXPECT_EQ(stream.names.back(), "error");
    const json& error = stream.data.back();
    EXPECT_TRUE(error["code"].is_string() && error["message"].is_string()) << error;
    record_received("event", error);

    // The OpenAI answer of the same upstream is well-formed too.
    const auto answer =
        request("POST", url + "/v1/completions",
                json{{"model", "evil"}, {"prompt", prompt}, {"max_tokens", 4}}.dump());
    const auto body = json::parse(answer.body, nullptr, false);
    EXPECT_TRUE(body.is_object() && body.contains("error")) << answer.status << " " << answer.body;
    ASSERT_TRUE(orchestrator.running()) << "the orchestrator died on " << prompt;
  }
  EXPECT_EQ(request("GET", url + "/health").status, 200u);
}

}  // namespace
}  // namespace llorch::testing
