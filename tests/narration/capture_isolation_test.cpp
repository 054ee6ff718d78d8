#include <gtest/gtest.h>

#include <thread>

#include "narration/capture_sink.hpp"
#include "narration/narrate.hpp"

namespace llorch::narration {
namespace {

// Two tests that capture at the same time (threads stand in for parallel tests) each see only
// their own events: a capture belongs to a Narrator, never to the process.
TEST(CaptureIsolation, ConcurrentCapturesSeeOnlyTheirOwnEvents) {
  constexpr int kEach = 500;
  auto run = [](const char* who, std::shared_ptr<CaptureSink> capture) {
    Narrator narrator;
    narrator.add_sink(capture);
    ScopedNarrator bind(narrator);
    for (int i = 0; i < kEach; ++i)
      info(actor::worker, action::execute_request).human("{} {}", who, i).emit();
  };
  auto a = std::make_shared<CaptureSink>();
  auto b = std::make_shared<CaptureSink>();
  std::thread ta(run, "a", a);
  std::thread tb(run, "b", b);
  ta.join();
  tb.join();
  ASSERT_EQ(a->size(), static_cast<std::size_t>(kEach));
  ASSERT_EQ(b->size(), static_cast<std::size_t>(kEach));
  for (const Event& e : a->events()) EXPECT_EQ(e.human[0], 'a');
  for (const Event& e : b->events()) EXPECT_EQ(e.human[0], 'b');
}

TEST(CaptureIsolation, ScopedNarratorRestoresThePrevious) {
  Narrator outer;
  auto outer_capture = std::make_shared<CaptureSink>();
  outer.add_sink(outer_capture);
  ScopedNarrator bind_outer(outer);
  {
    Narrator inner;
    auto inner_capture = std::make_shared<CaptureSink>();
    inner.add_sink(inner_capture);
    ScopedNarrator bind_inner(inner);
    EXPECT_EQ(&Narrator::current(), &inner);
  }
  EXPECT_EQ(&Narrator::current(), &outer);
}

}  // namespace
}  // namespace llorch::narration
