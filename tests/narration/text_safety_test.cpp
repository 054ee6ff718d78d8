#include "narration/text_safety.hpp"

#include <gtest/gtest.h>

#include <random>

namespace llorch::narration {
namespace {

std::string sanitized(std::string s) {
  sanitize(s);
  return s;
}

TEST(Sanitize, LeavesPrintableTextAlone) {
  EXPECT_EQ(sanitized("Loaded Llama model (7000 MB)"), "Loaded Llama model (7000 MB)");
  EXPECT_EQ(sanitized("héllo 😊 — 東京"), "héllo 😊 — 東京");
}

TEST(Sanitize, TurnsLineBreaksAndTabsIntoSpaces) {
  EXPECT_EQ(sanitized("a\nb\r\nc\td"), "a b  c d");
}

TEST(Sanitize, ReplacesTerminalEscapesAndOtherControls) {
  EXPECT_EQ(sanitized("red\x1b[31m!"), "red\xEF\xBF\xBD[31m!");
  EXPECT_EQ(sanitized(std::string("nul\0byte", 8)),
            "nul\xEF\xBF\xBD"
            "byte");
  EXPECT_EQ(sanitized("del\x7f"), "del\xEF\xBF\xBD");
  EXPECT_EQ(sanitized("c1\xC2\x9B"), "c1\xEF\xBF\xBD");  // U+009B CSI
  EXPECT_EQ(sanitized("bidi\xE2\x80\xAE"
                      "evil"),
            "bidi\xEF\xBF\xBD"
            "evil");  // U+202E
}

TEST(Sanitize, ReplacesEachMaximalInvalidSubsequence) {
  EXPECT_EQ(sanitized("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(sanitized("\xE2\x82"), "\xEF\xBF\xBD");              // truncated 3-byte sequence
  EXPECT_EQ(sanitized("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(sanitized("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitized("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitized("ok\xF0\x9F\x98"), "ok\xEF\xBF\xBD");  // emoji cut short
}

TEST(Sanitize, ResultIsAlwaysSafeForRandomBytes) {
  std::mt19937 rng(42);
  for (int round = 0; round < 5000; ++round) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    sanitize(s);
    ASSERT_TRUE(is_safe(s));
    std::string again = s;
    sanitize(again);
    ASSERT_EQ(again, s) << "sanitize must be idempotent";
  }
}

}  // namespace
}  // namespace llorch::narration
