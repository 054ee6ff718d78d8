#include "narration/json_line.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace llorch::narration {
namespace {

Event full_event() {
  Event e;
  e.actor = "inference-engine";
  e.action = "inference_complete";
  e.target = "job-123";
  e.human = "Complete! 42 tokens in 250 ms";
  e.cute = "All done! 🎉";
  e.story = "\"Done,\" said the engine.";
  e.level = Level::warn;
  e.correlation_id = "corr-1";
  e.job_id = "job-123";
  e.worker_id = "worker-gpu0-r1";
  e.pool_id = "pool-a";
  e.error_kind = "none";
  e.model_ref = "stories260K";
  e.tokens_in = 7;
  e.tokens_out = 42;
  e.duration_ms = 250;
  e.memory_bytes = 7'000'000'000;
  e.tokens_per_second = 168.12345678901234;
  e.progress = 0.5;
  e.ts = "2025-10-09T13:31:30.123Z";
  e.emitted_by = "llorch-worker@0.1.0";
  return e;
}

TEST(JsonLine, IsOneFlatObjectWithTheDesignFields) {
  const auto json = nlohmann::json::parse(to_json_line(full_event()));
  ASSERT_TRUE(json.is_object());
  for (const auto& [key, value] : json.items()) EXPECT_FALSE(value.is_structured()) << key;
  EXPECT_EQ(json["actor"], "inference-engine");
  EXPECT_EQ(json["level"], "warn");
  EXPECT_EQ(json["tokens_out"], 42);
  EXPECT_EQ(json["memory_bytes"], 7'000'000'000);
  EXPECT_EQ(json["ts"], "2025-10-09T13:31:30.123Z");
}

TEST(JsonLine, LeavesOutAbsentOptionalFields) {
  Event e;
  e.actor = "worker";
  e.action = "startup";
  e.human = "Starting";
  const auto json = nlohmann::json::parse(to_json_line(e));
  EXPECT_FALSE(json.contains("cute"));
  EXPECT_FALSE(json.contains("job_id"));
  EXPECT_FALSE(json.contains("tokens_in"));
  EXPECT_TRUE(json.contains("target"));
}

TEST(JsonLine, NonFiniteNumbersBecomeNull) {
  Event e = full_event();
  e.progress = std::numeric_limits<double>::quiet_NaN();
  e.tokens_per_second = std::numeric_limits<double>::infinity();
  const auto json = nlohmann::json::parse(to_json_line(e));
  EXPECT_TRUE(json["progress"].is_null());
  EXPECT_TRUE(json["tokens_per_second"].is_null());
}

TEST(JsonLine, EveryLineFromRandomBytesIsValidJsonOnOneLine) {
  std::mt19937 rng(7);
  const auto random_bytes = [&] {
    std::string s(rng() % 48, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    return s;
  };
  for (int round = 0; round < 3000; ++round) {
    Event e;
    e.actor = random_bytes();
    e.action = random_bytes();
    e.target = random_bytes();
    e.human = random_bytes();
    e.cute = random_bytes();
    e.story = random_bytes();
    e.job_id = random_bytes();
    e.model_ref = random_bytes();
    e.ts = random_bytes();
    e.emitted_by = random_bytes();
    const std::string line = to_json_line(e);
    ASSERT_EQ(line.find('\n'), std::string::npos);
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    ASSERT_TRUE(std::holds_alternative<Event>(parse_line(line)));
  }
}

TEST(Parser, RoundTripsEveryField) {
  const Event e = full_event();
  const ParsedLine parsed = parse_line(to_json_line(e) + "\n");
  ASSERT_TRUE(std::holds_alternative<Event>(parsed));
  EXPECT_EQ(std::get<Event>(parsed), e);
}

TEST(Parser, RoundTripsMinimalEvents) {
  Event e;
  e.actor = "worker";
  e.action = "startup";
  e.human = "Starting worker on 127.0.0.1:8080 \"quoted\" \\ back";
  e.level = Level::fatal;
  EXPECT_EQ(std::get<Event>(parse_line(to_json_line(e) + "\r\n")), e);
}

TEST(Parser, AnythingElseIsRawOutputNeverAnError) {
  for (std::string line :
       {"", "plain text from a library", "{", "[1,2,3]", "42", "null",
        R"({"actor":"worker"})",                                     // missing fields
        R"({"actor":1,"action":"a","human":"h","level":"info"})",    // wrong type
        R"({"actor":"w","action":"a","human":"h","level":"loud"})",  // bad level
        R"({"actor":"w","action":"a","human":"h","level":"info","tokens_in":"7"})",
        R"({"actor":"w","action":"a","human":"h","level":"info","tokens_in":1e400})",
        R"({"actor":"w","action":"a","human":"h","level":"info","pid":18446744073709551615})",
        "\xff\xfe{garbage"}) {
    const ParsedLine parsed = parse_line(line);
    ASSERT_TRUE(std::holds_alternative<RawLine>(parsed)) << line;
    EXPECT_EQ(std::get<RawLine>(parsed).text, line);
  }
}

TEST(Parser, AcceptsUnknownExtraFieldsFromNewerEmitters) {
  const auto parsed =
      parse_line(R"({"actor":"w","action":"a","human":"h","level":"info","future":{"x":1}})");
  ASSERT_TRUE(std::holds_alternative<Event>(parsed));
  EXPECT_EQ(std::get<Event>(parsed).human, "h");
}

TEST(Parser, SurvivesRandomInput) {
  std::mt19937 rng(11);
  const std::string alphabet = "{}[]\":,0123456789.eE+-truefalsnl \\actorhumanlevelinfo";
  for (int round = 0; round < 20000; ++round) {
    std::string s(rng() % 80, '\0');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    (void)parse_line(s);
  }
  SUCCEED();
}

}  // namespace
}  // namespace llorch::narration
