#include "narration/channel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace llorch::narration {
namespace {

Event numbered(int i) {
  Event e;
  e.actor = "worker";
  e.action = "token_generate";
  e.human = std::to_string(i);
  return e;
}

TEST(EventChannel, DeliversInPushOrderAcrossKinds) {
  EventChannel channel;
  channel.push_narration(numbered(1));
  channel.push({"token", R"({"t":"a"})"});
  channel.push_narration(numbered(2));
  channel.close();
  auto a = channel.pop();
  auto b = channel.pop();
  auto c = channel.pop();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(std::get<Event>(*a).human, "1");
  EXPECT_EQ(std::get<StreamMessage>(*b).type, "token");
  EXPECT_EQ(std::get<Event>(*c).human, "2");
  EXPECT_EQ(channel.pop(), std::nullopt);
}

TEST(EventChannel, DropsNarrationWhenFullCountsAndReportsIt) {
  EventChannel channel(3);
  for (int i = 0; i < 10; ++i) channel.push_narration(numbered(i));
  EXPECT_EQ(channel.dropped(), 7u);
  // Tokens are never dropped, however full the narration side is.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(channel.push({"token", "{}"}));
  auto waiting = channel.drain();
  EXPECT_EQ(waiting.size(), 103u);

  ASSERT_TRUE(channel.push_narration(numbered(99)));
  auto after = channel.drain();
  ASSERT_EQ(after.size(), 2u);
  const Event& report = std::get<Event>(after[0]);
  EXPECT_EQ(report.action, "events_dropped");
  EXPECT_EQ(report.level, Level::warn);
  EXPECT_EQ(report.dropped_events, 7);
  EXPECT_NE(report.human.find("Dropped 7 narration events"), std::string::npos);
  EXPECT_EQ(std::get<Event>(after[1]).human, "99");
}

TEST(EventChannel, NeverBlocksAProducerWhenNobodyReads) {
  EventChannel channel(16);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) channel.push_narration(numbered(i));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(channel.dropped(), 100000u - 16u);
}

TEST(EventChannel, CloseWakesAWaitingConsumer) {
  EventChannel channel;
  std::atomic<bool> finished{false};
  std::thread consumer([&] {
    EXPECT_EQ(channel.pop(), std::nullopt);
    finished = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(finished);
  channel.close();
  consumer.join();
  EXPECT_TRUE(finished);
}

TEST(EventChannel, RefusesEverythingAfterClose) {
  EventChannel channel;
  channel.close();
  EXPECT_FALSE(channel.push_narration(numbered(1)));
  EXPECT_FALSE(channel.push({"token", "{}"}));
  EXPECT_TRUE(channel.closed());
}

TEST(EventChannel, PopForTimesOut) {
  EventChannel channel;
  EXPECT_EQ(channel.pop_for(std::chrono::milliseconds(5)), std::nullopt);
  EXPECT_FALSE(channel.closed());
}

TEST(EventChannel, NotifiesAnEventLoopConsumer) {
  EventChannel channel;
  int notified = 0;
  channel.set_on_ready([&] { ++notified; });
  channel.push_narration(numbered(1));
  channel.push({"end", "{}"});
  channel.close();
  EXPECT_EQ(notified, 3);
}

}  // namespace
}  // namespace llorch::narration
