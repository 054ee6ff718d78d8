#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "narration/json_sink.hpp"
#include "narration/narrate.hpp"

namespace llorch::narration {
namespace {

// Points the process's real stdout at a temporary file for the test's lifetime.
class StdoutToFile {
 public:
  StdoutToFile() {
    std::fflush(stdout);
    char name[] = "/tmp/llorch-stdout-XXXXXX";
    fd_ = ::mkstemp(name);
    path_ = name;
    saved_ = ::dup(STDOUT_FILENO);
    ::dup2(fd_, STDOUT_FILENO);
  }
  ~StdoutToFile() {
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::vector<std::string> lines() const {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
  std::string path_;
};

TEST(Concurrency, SixteenRequestsOnSixteenThreadsNeverMix) {
  constexpr int kThreads = 16;
  constexpr int kEvents = 1000;
  StdoutToFile redirect;
  Narrator narrator(Level::info, {.component = "llorch-test", .worker_id = "w"});
  narrator.add_sink(std::make_shared<JsonLineSink>(STDOUT_FILENO));

  std::vector<std::shared_ptr<EventChannel>> channels;
  std::vector<std::vector<std::string>> received(kThreads);
  std::vector<std::thread> consumers;
  for (int t = 0; t < kThreads; ++t) {
    channels.push_back(std::make_shared<EventChannel>(kEvents));
    consumers.emplace_back([&, t] {
      while (auto item = channels[t]->pop()) received[t].push_back(std::get<Event>(*item).human);
    });
  }

  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      ScopedNarrator bind(narrator);
      RequestScope scope({"corr-" + std::to_string(t), "job-" + std::to_string(t), channels[t]});
      for (int i = 0; i < kEvents; ++i) {
        info(actor::inference_engine, action::token_generate)
            .human("request {} event {} with a tail long enough to make lines {}", t, i,
                   std::string(200, 'x'))
            .tokens_out(i)
            .emit();
      }
      channels[t]->close();
    });
  }
  for (auto& p : producers) p.join();
  for (auto& c : consumers) c.join();

  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(received[t].size(), static_cast<std::size_t>(kEvents)) << "channel " << t;
    EXPECT_EQ(channels[t]->dropped(), 0u);
    for (int i = 0; i < kEvents; ++i) {
      ASSERT_EQ(received[t][i].rfind(fmt::format("request {} event {} ", t, i), 0), 0u)
          << "channel " << t << " got foreign or reordered event: " << received[t][i];
    }
  }

  std::map<std::string, int> next_per_job;
  const auto lines = redirect.lines();
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kEvents));
  for (const std::string& line : lines) {
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    const auto json = nlohmann::json::parse(line);
    const std::string job = json["job_id"];
    const std::string corr = json["correlation_id"];
    ASSERT_EQ(job.substr(4), corr.substr(5)) << "job and correlation id from different requests";
    ASSERT_EQ(json["tokens_out"], next_per_job[job]++) << "per-request order lost on stdout";
  }
}

}  // namespace
}  // namespace llorch::narration
