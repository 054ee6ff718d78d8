#include "narration/setup.hpp"

#include <gtest/gtest.h>

namespace llorch::narration {
namespace {

TEST(LogSettings, DefaultsToInfoAndPrettyOnlyOnATerminal) {
  EXPECT_EQ(log_settings_from(nullptr, nullptr, false).format, LogFormat::json);
  EXPECT_EQ(log_settings_from(nullptr, nullptr, true).format, LogFormat::pretty);
  EXPECT_EQ(log_settings_from(nullptr, nullptr, false).level, Level::info);
}

TEST(LogSettings, EnvironmentOverrides) {
  const LogSettings s = log_settings_from("debug", "pretty", false);
  EXPECT_EQ(s.level, Level::debug);
  EXPECT_EQ(s.format, LogFormat::pretty);
  EXPECT_TRUE(s.problems.empty());
  EXPECT_EQ(log_settings_from("", "json", true).format, LogFormat::json);
}

TEST(LogSettings, BadValuesAreReportedWithTheFix) {
  const LogSettings s = log_settings_from("loud", "xml", false);
  EXPECT_EQ(s.level, Level::info);
  ASSERT_EQ(s.problems.size(), 2u);
  EXPECT_NE(s.problems[0].find("trace, debug, info, warn, error, fatal"), std::string::npos);
  EXPECT_NE(s.problems[1].find("json or pretty"), std::string::npos);
}

}  // namespace
}  // namespace llorch::narration
