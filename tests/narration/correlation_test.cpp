#include "narration/correlation.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "narration/capture_sink.hpp"
#include "narration/narrator.hpp"

namespace llorch::narration {
namespace {

TEST(CorrelationId, AcceptsTheAllowedAlphabetUpTo64Characters) {
  EXPECT_TRUE(is_valid_correlation_id("req-123"));
  EXPECT_TRUE(is_valid_correlation_id("a.B_c:d-9"));
  EXPECT_TRUE(is_valid_correlation_id(std::string(64, 'x')));
  EXPECT_FALSE(is_valid_correlation_id(""));
  EXPECT_FALSE(is_valid_correlation_id(std::string(65, 'x')));
  EXPECT_FALSE(is_valid_correlation_id("has space"));
  EXPECT_FALSE(is_valid_correlation_id("semi;colon"));
  EXPECT_FALSE(is_valid_correlation_id("new\nline"));
  EXPECT_FALSE(is_valid_correlation_id("é"));
}

TEST(CorrelationId, GeneratesDistinctVersion4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = generate_uuid_v4();
    ASSERT_THAT(id, ::testing::MatchesRegex(
                        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
    ASSERT_TRUE(seen.insert(id).second);
  }
}

TEST(CorrelationId, KeepsAValidCallerIdSilently) {
  Narrator narrator(Level::trace);
  auto capture = std::make_shared<CaptureSink>();
  narrator.add_sink(capture);
  ScopedNarrator bind(narrator);
  const CorrelationId id = resolve_correlation_id("client-42");
  EXPECT_EQ(id.value, "client-42");
  EXPECT_FALSE(id.generated);
  EXPECT_EQ(capture->size(), 0u);
}

TEST(CorrelationId, ReplacesAnInvalidIdAndSaysSoInADebugEvent) {
  Narrator narrator(Level::debug);
  auto capture = std::make_shared<CaptureSink>();
  narrator.add_sink(capture);
  ScopedNarrator bind(narrator);
  const CorrelationId id = resolve_correlation_id("bad id with spaces");
  EXPECT_TRUE(id.generated);
  EXPECT_TRUE(is_valid_correlation_id(id.value));
  ASSERT_EQ(capture->size(), 1u);
  const Event event = capture->events().front();
  EXPECT_EQ(event.level, Level::debug);
  EXPECT_EQ(event.correlation_id, id.value);
  EXPECT_THAT(event.human, ::testing::HasSubstr("not 1-64 characters"));
}

TEST(TraceParent, ParsesTheSpecExample) {
  const auto tp = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->version, 0);
  EXPECT_EQ(tp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(tp->parent_id, "00f067aa0ba902b7");
  EXPECT_TRUE(tp->sampled());
  EXPECT_EQ(tp->to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(TraceParent, RejectsWhatTheSpecSaysToIgnore) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with extra data
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // wrong separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
       }) {
    EXPECT_EQ(parse_traceparent(bad), std::nullopt) << bad;
  }
}

TEST(TraceParent, AcceptsFutureVersionsWithExtraFields) {
  const auto tp =
      parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->version, 1);
  EXPECT_FALSE(tp->sampled());
}

}  // namespace
}  // namespace llorch::narration
