// Every validation rule of POST /execute, and that one 400 names every failing field.
#include "api/execute_request.hpp"

#include <gtest/gtest.h>

#include <set>

#include "api/errors.hpp"

namespace llorch::api {
namespace {

const ExecuteLimits kLimits{2048, 512};

std::set<std::string> failing_fields(const std::string& body) {
  const auto parsed = parse_execute_request(body, kLimits);
  std::set<std::string> fields;
  if (const auto* errors = std::get_if<std::vector<FieldError>>(&parsed)) {
    for (const auto& e : *errors) {
      EXPECT_FALSE(e.constraint.empty());
      EXPECT_FALSE(e.message.empty());
      fields.insert(e.field);
    }
  }
  return fields;
}

TEST(ExecuteRequest, DefaultsAreDocumentedValues) {
  const auto parsed = parse_execute_request(R"({"prompt":"Hi"})", kLimits);
  ASSERT_TRUE(std::holds_alternative<ExecuteRequest>(parsed));
  const auto& r = std::get<ExecuteRequest>(parsed);
  EXPECT_EQ(r.prompt, "Hi");
  EXPECT_EQ(r.max_tokens, 128u);
  EXPECT_FLOAT_EQ(r.temperature, 0.8f);
  EXPECT_FLOAT_EQ(r.top_p, 0.95f);
  EXPECT_EQ(r.top_k, 40);
  EXPECT_FLOAT_EQ(r.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r.repetition_penalty, 1.0f);
  EXPECT_FALSE(r.seed);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_EQ(r.narration_mode, narration::Mode::human);
  EXPECT_TRUE(r.job_id.empty());
}

TEST(ExecuteRequest, AcceptsEveryFieldAtItsLimits) {
  const auto parsed = parse_execute_request(
      R"({"job_id":"job-1","prompt":"","max_tokens":2048,"temperature":2,"top_p":1,"top_k":512,"min_p":1,)"
      R"("repetition_penalty":0.5,"seed":18446744073709551615,"stop":["a","b"],"narration_mode":"story"})",
      kLimits);
  ASSERT_TRUE(std::holds_alternative<ExecuteRequest>(parsed));
  const auto& r = std::get<ExecuteRequest>(parsed);
  EXPECT_EQ(r.seed, 18446744073709551615ull);
  EXPECT_EQ(r.narration_mode, narration::Mode::story);
}

TEST(ExecuteRequest, EveryRuleFails) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({})", "prompt"},
      {R"({"prompt":1})", "prompt"},
      {R"({"prompt":"x","job_id":"has space"})", "job_id"},
      {R"({"prompt":"x","job_id":""})", "job_id"},
      {R"({"prompt":"x","max_tokens":0})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":2049})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":1.5})", "max_tokens"},
      {R"({"prompt":"x","temperature":-0.1})", "temperature"},
      {R"({"prompt":"x","temperature":"hot"})", "temperature"},
      {R"({"prompt":"x","top_p":1.5})", "top_p"},
      {R"({"prompt":"x","top_k":-1})", "top_k"},
      {R"({"prompt":"x","top_k":513})", "top_k"},
      {R"({"prompt":"x","min_p":2})", "min_p"},
      {R"({"prompt":"x","repetition_penalty":3})", "repetition_penalty"},
      {R"({"prompt":"x","seed":-1})", "seed"},
      {R"({"prompt":"x","seed":1.5})", "seed"},
      {R"({"prompt":"x","stop":"."})", "stop"},
      {R"({"prompt":"x","stop":[1]})", "stop[0]"},
      {R"({"prompt":"x","stop":["ok",""]})", "stop[1]"},
      {R"({"prompt":"x","stop":["1","2","3","4","5","6","7","8","9"]})", "stop"},
      {R"({"prompt":"x","narration_mode":"loud"})", "narration_mode"},
      {R"({"prompt":"x","ignore_eos":1})", "ignore_eos"},
      {R"({"prompt":"x","tempurature":0.5})", "tempurature"},
  };
  for (const auto& [body, field] : cases) {
    EXPECT_EQ(failing_fields(body), std::set<std::string>{field}) << body;
  }
  EXPECT_EQ(
      failing_fields(std::string(R"({"prompt":")") + std::string(kMaxPromptBytes + 1, 'a') + "\"}"),
      std::set<std::string>{"prompt"});
}

TEST(ExecuteRequest, OneAnswerNamesEveryFailingField) {
  EXPECT_EQ(failing_fields(R"({"prompt":5,"max_tokens":0,"temperature":"hot","bogus":1})"),
            (std::set<std::string>{"prompt", "max_tokens", "temperature", "bogus"}));
}

TEST(ExecuteRequest, MalformedBodies) {
  EXPECT_EQ(failing_fields("{not json"), std::set<std::string>{""});
  EXPECT_EQ(failing_fields("[1,2]"), std::set<std::string>{""});
  EXPECT_EQ(failing_fields(""), std::set<std::string>{""});
}

TEST(ErrorBody, HasTheContractShape) {
  EXPECT_EQ(
      error_body("INVALID_REQUEST", "1 invalid field: prompt",
                 {{"prompt", "required", "prompt is required"}}, "c-1"),
      R"({"error":{"code":"INVALID_REQUEST","message":"1 invalid field: prompt","details":[{"field":"prompt",)"
      R"("constraint":"required","message":"prompt is required"}],"correlation_id":"c-1"}})");
}

}  // namespace
}  // namespace llorch::api
