#include "narration/console_sink.hpp"

#include <gtest/gtest.h>

namespace llorch::narration {
namespace {

Event loaded() {
  Event e;
  e.ts = "2025-10-09T13:31:31.000Z";
  e.actor = "model-loader";
  e.action = "model_load_complete";
  e.human = "Loaded Llama model (7000 MB)";
  return e;
}

TEST(ConsoleFormat, MatchesTheSeedPicture) {
  Event e = loaded();
  e.worker_id = "worker-gpu0-r1";
  EXPECT_EQ(format_console_line(e, false),
            "2025-10-09T13:31:31.000Z INFO  worker-gpu0-r1: Loaded Llama model (7000 MB)");
}

TEST(ConsoleFormat, FallsBackToTheActorAndShowsRequestIds) {
  Event e = loaded();
  e.job_id = "job-123";
  e.correlation_id = "corr-9";
  e.level = Level::error;
  EXPECT_EQ(
      format_console_line(e, false),
      "2025-10-09T13:31:31.000Z ERROR model-loader: Loaded Llama model (7000 MB) [job job-123] "
      "[corr corr-9]");
}

TEST(ConsoleFormat, ColoursOnlyTheLevel) {
  const std::string line = format_console_line(loaded(), true);
  EXPECT_NE(line.find("\x1b[32mINFO \x1b[0m"), std::string::npos) << line;
}

}  // namespace
}  // namespace llorch::narration
