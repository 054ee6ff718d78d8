#include <gtest/gtest.h>

#include "narration/event.hpp"
#include "narration/level.hpp"

namespace llorch::narration {
namespace {

TEST(Level, NamesRoundTrip) {
  for (Level level :
       {Level::trace, Level::debug, Level::info, Level::warn, Level::error, Level::fatal}) {
    EXPECT_EQ(parse_level(to_string(level)), level);
  }
}

TEST(Level, ParsesCaseInsensitivelyAndRejectsUnknown) {
  EXPECT_EQ(parse_level("DEBUG"), Level::debug);
  EXPECT_EQ(parse_level("Warning"), Level::warn);
  EXPECT_EQ(parse_level("verbose"), std::nullopt);
  EXPECT_EQ(parse_level(""), std::nullopt);
}

TEST(Mode, FallsBackToHumanWhenAStyleIsMissing) {
  Event event;
  event.human = "Tokenized prompt (7 tokens)";
  event.cute = "Chopped it into 7 pieces!";
  EXPECT_EQ(text_for(event, Mode::human), event.human);
  EXPECT_EQ(text_for(event, Mode::cute), event.cute);
  EXPECT_EQ(text_for(event, Mode::story), event.human);
}

TEST(Mode, ParsesTheThreeNames) {
  EXPECT_EQ(parse_mode("cute"), Mode::cute);
  EXPECT_EQ(parse_mode("story"), Mode::story);
  EXPECT_EQ(parse_mode("human"), Mode::human);
  EXPECT_EQ(parse_mode("loud"), std::nullopt);
  EXPECT_EQ(to_string(Mode::story), "story");
}

}  // namespace
}  // namespace llorch::narration
