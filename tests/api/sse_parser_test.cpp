#include "api/sse_parser.hpp"

#include <gtest/gtest.h>

#include "api/stream_events.hpp"

namespace llorch::api {
namespace {

TEST(SseParser, ReadsFramesSplitAnywhere) {
  const std::string stream = sse_frame(0, "started", R"({"type":"started"})") + ": a comment\n" +
                             sse_frame(1, "token", R"({"type":"token","t":"a\nb"})");
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser parser;
    auto events = parser.feed(stream.substr(0, cut));
    const auto rest = parser.feed(stream.substr(cut));
    events.insert(events.end(), rest.begin(), rest.end());
    ASSERT_EQ(events.size(), 2u) << cut;
    EXPECT_EQ(events[0].id, "0");
    EXPECT_EQ(events[0].event, "started");
    EXPECT_EQ(events[1].event, "token");
    EXPECT_EQ(events[1].data, R"({"type":"token","t":"a\nb"})");
  }
}

TEST(SseParser, JoinsDataLinesAndAcceptsCrlf) {
  SseParser parser;
  const auto events = parser.feed("data: one\r\ndata: two\r\n\r\nevent: x\ndata:three\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "one\ntwo");
  EXPECT_EQ(events[0].event, "message");
  EXPECT_EQ(events[1].data, "three");
}

}  // namespace
}  // namespace llorch::api
