#include "api/json_input.hpp"

#include <gtest/gtest.h>

#include "api/http_common.hpp"
#include "api/sse_parser.hpp"

namespace llorch::api {
namespace {

TEST(JsonInput, NestingIsCountedOutsideStringsOnly) {
  EXPECT_EQ(json_nesting_depth(R"({"a":[1,{"b":[]}]})", 100), 4u);
  EXPECT_EQ(json_nesting_depth(R"({"a":"[[[[[[[[[[\"[[["})", 100), 1u);
  EXPECT_EQ(json_nesting_depth("", 100), 0u);
  EXPECT_EQ(json_nesting_depth(std::string(1000000, '['), 32), 33u) << "stops at the limit";
}

TEST(JsonInput, TooDeepIsRefusedBeforeParsing) {
  JsonProblem problem = JsonProblem::none;
  EXPECT_TRUE(
      parse_untrusted(std::string(33, '[') + std::string(33, ']'), &problem).is_discarded());
  EXPECT_EQ(problem, JsonProblem::too_deep);
  EXPECT_EQ(body_error(problem).constraint, "maxDepth:32");
  EXPECT_FALSE(
      parse_untrusted(std::string(32, '[') + std::string(32, ']'), &problem).is_discarded());
  EXPECT_EQ(problem, JsonProblem::none);
  EXPECT_TRUE(parse_untrusted("{nope", &problem).is_discarded());
  EXPECT_EQ(problem, JsonProblem::malformed);
  EXPECT_EQ(body_error(problem).constraint, "json");
}

TEST(JsonInput, AccessorsNeverThrowOnTheWrongType) {
  const auto j = nlohmann::json::parse(R"({"s":"x","n":5,"neg":-1,"o":{"k":1},"a":[1]})");
  EXPECT_EQ(string_or(j, "s"), "x");
  EXPECT_EQ(string_or(j, "n", "fallback"), "fallback");
  EXPECT_EQ(string_or(j, "missing"), "");
  EXPECT_EQ(string_or(j["a"], "s", "f"), "f") << "not an object";
  EXPECT_EQ(count_or(j, "n"), 5u);
  EXPECT_EQ(count_or(j, "neg", 7), 7u);
  EXPECT_EQ(count_or(j, "s", 7), 7u);
  EXPECT_EQ(object_or_empty(j, "o").size(), 1u);
  EXPECT_TRUE(object_or_empty(j, "a").empty());
  EXPECT_TRUE(object_or_empty(nlohmann::json(3), "o").empty());
}

TEST(BearerToken, SchemeIsCaseInsensitiveAndSpacesAreTrimmed) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER   abc  "), "abc");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token(""), "");
}

TEST(SameSecret, EqualOnlyWhenEveryByteAndTheLengthAgree) {
  EXPECT_TRUE(same_secret("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(same_secret("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(same_secret("s3cret-token", "s3cret-token-and-more"));
  EXPECT_FALSE(same_secret("s3cret", "s3cret-token"));
  EXPECT_FALSE(same_secret("", "")) << "an empty secret is no secret";
  EXPECT_FALSE(same_secret(std::string("a\0b", 3), "a"));
}

TEST(SseParserLimits, AnEndlessLineStopsTheParser) {
  SseParser parser;
  const std::string chunk(1024 * 1024, 'x');
  for (int i = 0; i < 5 && !parser.overflowed(); ++i) parser.feed("data: " + chunk);
  EXPECT_TRUE(parser.overflowed());
  EXPECT_TRUE(parser.feed("\n\n").empty());
}

}  // namespace
}  // namespace llorch::api
