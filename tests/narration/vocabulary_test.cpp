#include "narration/vocabulary.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace llorch::narration {
namespace {

bool is_kebab_or_snake(std::string_view s, char separator) {
  if (s.empty() || s.front() == separator || s.back() == separator) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == separator)) return false;
  }
  return true;
}

TEST(Vocabulary, ActorsAreUniqueShortKebabCase) {
  std::set<std::string_view> seen(kActors.begin(), kActors.end());
  EXPECT_EQ(seen.size(), kActors.size());
  for (auto a : kActors) {
    EXPECT_TRUE(is_kebab_or_snake(a, '-')) << a;
    EXPECT_LE(a.size(), 32u);
  }
}

TEST(Vocabulary, ActionsAreUniqueSnakeCase) {
  std::set<std::string_view> seen(kActions.begin(), kActions.end());
  EXPECT_EQ(seen.size(), kActions.size());
  for (auto a : kActions) EXPECT_TRUE(is_kebab_or_snake(a, '_')) << a;
}

}  // namespace
}  // namespace llorch::narration
