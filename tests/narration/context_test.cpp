#include "narration/context.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "narration/capture_sink.hpp"
#include "narration/narrate.hpp"

namespace llorch::narration {
namespace {

class ContextTest : public ::testing::Test {
 protected:
  ContextTest() { narrator_.add_sink(capture_); }
  Narrator narrator_{Level::trace};
  std::shared_ptr<CaptureSink> capture_ = std::make_shared<CaptureSink>();
  ScopedNarrator bind_{narrator_};
};

void say(const char* text) {
  info(actor::worker, action::execute_request).human("{}", text).emit();
}

TEST_F(ContextTest, OutsideAnyScopeEventsReachTheLogOnly) {
  EXPECT_EQ(RequestScope::current(), nullptr);
  say("lifecycle");
  ASSERT_EQ(capture_->size(), 1u);
  EXPECT_EQ(capture_->events()[0].correlation_id, "");
}

TEST_F(ContextTest, InsideAScopeEventsReachTheLogAndTheChannelWithTheIds) {
  auto channel = std::make_shared<EventChannel>();
  {
    RequestScope scope({"corr-1", "job-1", channel});
    say("inside");
  }
  ASSERT_EQ(capture_->size(), 1u);
  EXPECT_EQ(capture_->events()[0].correlation_id, "corr-1");
  EXPECT_EQ(capture_->events()[0].job_id, "job-1");
  auto items = channel->drain();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(std::get<Event>(items[0]).human, "inside");
  EXPECT_EQ(std::get<Event>(items[0]).correlation_id, "corr-1");
}

TEST_F(ContextTest, NothingRemainsWhenTheScopeEnds) {
  auto channel = std::make_shared<EventChannel>();
  { RequestScope scope({"corr-1", "job-1", channel}); }
  EXPECT_EQ(RequestScope::current(), nullptr);
  say("after");
  EXPECT_TRUE(channel->drain().empty());
  EXPECT_EQ(capture_->events().back().job_id, "");
  EXPECT_EQ(channel.use_count(), 1) << "the thread must not keep the channel alive";
}

TEST_F(ContextTest, NestedScopesRestoreTheOuterOne) {
  auto outer = std::make_shared<EventChannel>();
  auto inner = std::make_shared<EventChannel>();
  RequestScope a({"corr-a", "job-a", outer});
  {
    RequestScope b({"corr-b", "job-b", inner});
    say("inner");
  }
  say("outer");
  EXPECT_EQ(inner->drain().size(), 1u);
  auto outer_items = outer->drain();
  ASSERT_EQ(outer_items.size(), 1u);
  EXPECT_EQ(std::get<Event>(outer_items[0]).job_id, "job-a");
}

TEST_F(ContextTest, ExplicitIdsOnTheEventWin) {
  RequestScope scope({"corr-1", "job-1", nullptr});
  info(actor::worker, action::execute_request).human("x").job_id("other-job").emit();
  EXPECT_EQ(capture_->events()[0].job_id, "other-job");
  EXPECT_EQ(capture_->events()[0].correlation_id, "corr-1");
}

TEST_F(ContextTest, AnotherThreadSeesNothingUntilTheContextIsCarriedThere) {
  auto channel = std::make_shared<EventChannel>();
  RequestScope scope({"corr-1", "job-1", channel});

  std::thread unbound([&] {
    ScopedNarrator same(narrator_);
    EXPECT_EQ(RequestScope::current(), nullptr);
    say("unbound thread");
  });
  unbound.join();
  EXPECT_TRUE(channel->drain().empty());

  auto carried = bind_to_current_request([&] {
    ScopedNarrator same(narrator_);
    say("carried");
    return RequestScope::current() != nullptr;
  });
  EXPECT_TRUE(std::async(std::launch::async, std::move(carried)).get());
  auto items = channel->drain();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(std::get<Event>(items[0]).human, "carried");
  EXPECT_EQ(std::get<Event>(items[0]).job_id, "job-1");
}

TEST_F(ContextTest, AClosedChannelDoesNotStopLogging) {
  auto channel = std::make_shared<EventChannel>();
  channel->close();
  RequestScope scope({"corr-1", "job-1", channel});
  say("client went away");
  EXPECT_EQ(capture_->size(), 1u);
}

}  // namespace
}  // namespace llorch::narration
