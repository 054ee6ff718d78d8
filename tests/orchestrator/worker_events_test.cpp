#include "orchestrator/worker_events.hpp"

#include <gtest/gtest.h>

#include "orchestrator/api_keys.hpp"

namespace llorch::orchestrator {
namespace {

using nlohmann::json;

TEST(WorkerFrames, TheContractsFramesPass) {
  EXPECT_FALSE(check_worker_frame("started", R"({"type":"started"})"));
  EXPECT_FALSE(check_worker_frame("narration", R"({"human":"x"})"));
  EXPECT_FALSE(check_worker_frame("token", R"({"t":"hi","i":0})"));
  EXPECT_FALSE(check_worker_frame("metrics", R"({"tokens_in":3})"));
  EXPECT_FALSE(check_worker_frame("error", R"({"code":"X"})"));
  for (const char* reason : {"MAX_TOKENS", "EOS", "STOP_SEQUENCE", "CANCELLED", "CONTEXT_FULL"})
    EXPECT_FALSE(check_worker_frame("end", json{{"stop_reason", reason}}.dump())) << reason;
}

TEST(WorkerFrames, AnythingElseIsNamed) {
  EXPECT_TRUE(check_worker_frame("surprise", "{}"));
  EXPECT_TRUE(check_worker_frame("token", R"({"t":5})"));
  EXPECT_TRUE(check_worker_frame("token", R"({})"));
  EXPECT_TRUE(check_worker_frame("narration", "[1]"));
  EXPECT_TRUE(check_worker_frame("narration", "not json"));
  EXPECT_TRUE(check_worker_frame("end", R"({"stop_reason":"BECAUSE"})"));
  EXPECT_TRUE(check_worker_frame("end", R"({"stop_reason":5})"));
  EXPECT_TRUE(check_worker_frame("metrics", std::string(100, '[') + std::string(100, ']')));
}

TEST(WorkerFrames, ErrorsAreNormalized) {
  const auto known = json::parse(normalized_worker_error(
      R"({"code":"PROMPT_TOO_LONG","message":"too long","extra":1})", "c1"));
  EXPECT_EQ(known, (json{{"type", "error"},
                         {"code", "PROMPT_TOO_LONG"},
                         {"message", "too long"},
                         {"correlation_id", "c1"}}));
  const auto odd = json::parse(normalized_worker_error(R"({"code":{"x":1},"message":42})", "c"));
  EXPECT_EQ(odd["code"], "WORKER_ERROR");
  EXPECT_FALSE(odd["message"].get<std::string>().empty());
  EXPECT_EQ(json::parse(normalized_worker_error(R"({"code":"MADE_UP"})", "c"))["code"],
            "WORKER_ERROR");
}

TEST(WorkerRefusals, AnyBodyGivesACodeAndAShortMessage) {
  EXPECT_EQ(read_refusal(R"({"error":{"code":"SLOTS_BUSY","message":"busy"}})").code, "SLOTS_BUSY");
  const auto odd = read_refusal(R"({"error":["x",{"code":5}]})");
  EXPECT_EQ(odd.code, "");
  EXPECT_FALSE(odd.message.empty());
  EXPECT_LE(read_refusal(std::string(10000, 'x')).message.size(), 200u);
  EXPECT_EQ(read_refusal("").code, "");
}

TEST(WorkerStream, ReadsFramesUntilTheTerminalOneAndStopsOnABrokenOne) {
  auto task = Task::create("t", "c", "", TaskSpec{}, nullptr);
  WorkerStreamReader reader(*task);
  EXPECT_TRUE(reader.feed("event: token\ndata: {\"t\":\"a\"}\n\nevent: tok"));
  EXPECT_FALSE(
      reader.feed("en\ndata: {\"t\":\"b\"}\n\nevent: end\ndata: {\"stop_reason\":\"EOS\"}\n\n"
                  "event: token\ndata: {\"t\":\"after\"}\n\n"));
  EXPECT_TRUE(reader.terminal());
  EXPECT_TRUE(reader.broken().empty());
  std::vector<TaskFrame> frames;
  task->read(0, frames);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames.back().type, "end");

  auto bad = Task::create("t2", "c", "", TaskSpec{}, nullptr);
  WorkerStreamReader broken(*bad);
  EXPECT_FALSE(broken.feed("event: token\ndata: {\"t\":7}\n\n"));
  EXPECT_NE(broken.broken().find("token"), std::string::npos);
  broken.end_broken("w1");
  EXPECT_TRUE(bad->ended());
  frames.clear();
  bad->read(0, frames);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(json::parse(frames[0].data)["code"], "WORKER_PROTOCOL_ERROR");
}

TEST(ApiKeyFile, ClientsAndKeysAreCheckedLineByLine) {
  const auto keys =
      parse_api_keys("# team\n\nalice: 0123456789abcdef\n  bob:fedcba9876543210  \n", "keys");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[1].client, "bob");
  EXPECT_EQ(keys[1].key, "fedcba9876543210");
  for (const char* bad : {"no-colon-here-0123456789", "alice:short", "bad name:0123456789abcdef",
                          "a:0123456789abcdef\na:fedcba9876543210",
                          "a:0123456789abcdef\nb:0123456789abcdef", "a:0123456789 abcdef"}) {
    EXPECT_THROW(parse_api_keys(bad, "keys"), std::invalid_argument) << bad;
  }
  try {
    parse_api_keys("a:0123456789abcdef\nb:short", "keys.txt");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("keys.txt line 2"), std::string::npos) << e.what();
  }
}

TEST(ApiKeys, EachKeyNamesItsClient) {
  ApiKeys none;
  EXPECT_FALSE(none.enabled());
  ApiKeys single("0123456789abcdef", "");
  EXPECT_TRUE(single.enabled());
  EXPECT_EQ(single.client_of("0123456789abcdef"), "default");
  EXPECT_FALSE(single.client_of("0123456789abcdeX"));
  EXPECT_FALSE(single.client_of(""));
}

}  // namespace
}  // namespace llorch::orchestrator
