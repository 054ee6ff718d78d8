#include "narration/narrate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "narration/capture_sink.hpp"

namespace llorch::narration {
namespace {

struct Recorded {
  std::shared_ptr<CaptureSink> capture = std::make_shared<CaptureSink>();
  Narrator narrator;
  explicit Recorded(Level level, Identity identity = {}) : narrator(level, std::move(identity)) {
    narrator.add_sink(capture);
  }
};

TEST(Narrate, BuilderFillsEveryFieldTheCallSiteNames) {
  Recorded r(Level::info,
             {.component = "llorch-worker", .worker_id = "worker-gpu0-r1", .pool_id = "pool-1"});
  ScopedNarrator bind(r.narrator);
  info(actor::tokenizer, action::tokenize)
      .target("job-7")
      .human("Tokenized prompt ({} tokens)", 7)
      .cute("Chopped the prompt into {} tasty pieces! 🍰", 7)
      .story("\"{} pieces,\" said the tokenizer.", 7)
      .tokens_in(7)
      .tokens_per_second(12.5)
      .model_ref("stories260K")
      .emit();
  ASSERT_EQ(r.capture->size(), 1u);
  const Event e = r.capture->events()[0];
  EXPECT_EQ(e.actor, "tokenizer");
  EXPECT_EQ(e.action, "tokenize");
  EXPECT_EQ(e.target, "job-7");
  EXPECT_EQ(e.human, "Tokenized prompt (7 tokens)");
  EXPECT_EQ(e.cute, "Chopped the prompt into 7 tasty pieces! 🍰");
  EXPECT_EQ(e.tokens_in, 7);
  EXPECT_EQ(e.tokens_per_second, 12.5);
  EXPECT_EQ(e.model_ref, "stories260K");
  EXPECT_EQ(e.worker_id, "worker-gpu0-r1");
  EXPECT_EQ(e.pool_id, "pool-1");
  EXPECT_THAT(e.emitted_by, ::testing::StartsWith("llorch-worker@"));
  EXPECT_THAT(e.ts, ::testing::MatchesRegex(
                        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
}

TEST(Narrate, DisabledLevelsBuildNothing) {
  Recorded r(Level::info);
  ScopedNarrator bind(r.narrator);
  int formatted = 0;
  auto builder = debug(actor::worker, action::execute_request);
  EXPECT_FALSE(builder.enabled());
  builder.human("{}", [&] { return ++formatted; }()).emit();  // argument evaluated, never formatted
  EXPECT_EQ(r.capture->size(), 0u);
  warn(actor::worker, action::execute_request).human("shown").emit();
  EXPECT_EQ(r.capture->size(), 1u);
}

TEST(Narrate, LevelCanChangeAtRunTime) {
  Recorded r(Level::error);
  ScopedNarrator bind(r.narrator);
  info(actor::worker, action::execute_request).human("hidden").emit();
  r.narrator.set_level(Level::trace);
  trace(actor::worker, action::execute_request).human("shown").emit();
  ASSERT_EQ(r.capture->size(), 1u);
  EXPECT_EQ(r.capture->events()[0].human, "shown");
}

TEST(Narrate, SecretsAreRedactedBeforeAnySink) {
  Recorded r(Level::info);
  ScopedNarrator bind(r.narrator);
  auto channel = std::make_shared<EventChannel>();
  RequestScope scope({"c", "j", channel});
  info(actor::http_server, action::callback_attempt)
      .target("https://user:pw123@pool:9200/")
      .human("Calling back with Authorization: Bearer abcdef123456")
      .cute("psst, api_key=sk-999")
      .error_kind("token: leaked-value")
      .emit();
  const Event logged = r.capture->events()[0];
  const Event streamed = std::get<Event>(channel->drain()[0]);
  for (const Event& e : {logged, streamed}) {
    EXPECT_EQ(e.human.find("abcdef123456"), std::string::npos);
    EXPECT_EQ(e.cute.find("sk-999"), std::string::npos);
    EXPECT_EQ(e.target.find("pw123"), std::string::npos);
    EXPECT_EQ(e.error_kind->find("leaked-value"), std::string::npos);
  }
}

TEST(Narrate, ControlCharactersCannotBreakTheLine) {
  Recorded r(Level::info);
  ScopedNarrator bind(r.narrator);
  info(actor::worker, action::execute_request)
      .human("line\nbreak \x1b[2J clear")
      .target("a\rb")
      .emit();
  const Event e = r.capture->events()[0];
  EXPECT_EQ(e.human, "line break \xEF\xBF\xBD[2J clear");
  EXPECT_EQ(e.target, "a b");
}

class ThrowingSink : public Sink {
 public:
  void write(const Event&) override { throw std::runtime_error("disk full"); }
};

TEST(Narrate, AFailingSinkNeverStopsTheOthers) {
  Narrator narrator;
  auto capture = std::make_shared<CaptureSink>();
  narrator.add_sink(std::make_shared<ThrowingSink>());
  narrator.add_sink(capture);
  ScopedNarrator bind(narrator);
  auto channel = std::make_shared<EventChannel>();
  RequestScope scope({"c", "j", channel});
  info(actor::worker, action::execute_request).human("still here").emit();
  EXPECT_EQ(capture->size(), 1u);
  EXPECT_EQ(channel->drain().size(), 1u);
  EXPECT_EQ(narrator.sink_failures(), 1u);
}

TEST(Narrate, ABuilderEmitsOnce) {
  Recorded r(Level::info);
  ScopedNarrator bind(r.narrator);
  auto builder = info(actor::worker, action::execute_request);
  builder.human("once").emit();
  builder.emit();
  EXPECT_EQ(r.capture->size(), 1u);
}

}  // namespace
}  // namespace llorch::narration
