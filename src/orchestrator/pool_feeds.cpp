#include "orchestrator/pool_feeds.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "api/sse_parser.hpp"
#include "narration/json_line.hpp"
#include "narration/narrate.hpp"
#include "net/http_client.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;
using namespace std::chrono_literals;

namespace {

// A quiet feed sends nothing: the read gives up after this long and starts again, which is also
// how soon a reader notices it was told to stop.
constexpr auto kIdle = 1000ms;
constexpr auto kRetry = 2000ms;  // after a refusal or an unreachable pool

}  // namespace

PoolFeeds::PoolFeeds(std::shared_ptr<api::NarrationFeed> feed, std::string pool_api_token)
    : feed_(std::move(feed)), token_(std::move(pool_api_token)) {}

PoolFeeds::~PoolFeeds() {
  stop();
}

void PoolFeeds::follow(const std::vector<std::string>& pool_urls) {
  std::lock_guard lock(mutex_);
  join_finished();
  for (auto it = readers_.begin(); it != readers_.end();) {
    if (std::find(pool_urls.begin(), pool_urls.end(), it->first) != pool_urls.end()) {
      ++it;
      continue;
    }
    it->second.stop->store(true);
    retired_.push_back(std::move(it->second));
    it = readers_.erase(it);
  }
  for (const auto& url : pool_urls) {
    if (readers_.contains(url)) continue;
    Reader r{
        std::make_shared<std::atomic<bool>>(false), std::make_shared<std::atomic<bool>>(false), {}};
    r.thread = std::thread([url, token = token_, feed = feed_, stop = r.stop, done = r.done] {
      read(url, token, feed, *stop);
      done->store(true);
    });
    readers_.emplace(url, std::move(r));
  }
}

void PoolFeeds::stop() {
  std::lock_guard lock(mutex_);
  for (auto& [url, r] : readers_) {
    r.stop->store(true);
    retired_.push_back(std::move(r));
  }
  readers_.clear();
  for (auto& r : retired_)
    if (r.thread.joinable()) r.thread.join();
  retired_.clear();
}

void PoolFeeds::join_finished() {
  std::erase_if(retired_, [](Reader& r) {
    if (!r.done->load()) return false;
    r.thread.join();
    return true;
  });
}

void PoolFeeds::read(const std::string& url, const std::string& token,
                     const std::shared_ptr<api::NarrationFeed>& feed,
                     const std::atomic<bool>& stop) {
  std::string problem;  // the last one narrated: said once, not every retry
  while (!stop.load()) {
    api::SseParser parser;
    net::ClientRequest request{.method = "GET", .url = url + "/v1/narration"};
    request.timeout = kIdle;
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    std::string now;
    try {
      const auto response =
          net::http_call(request, [&](const net::ClientResponse& head, std::string_view chunk) {
            if (head.status != 200) return false;
            for (const auto& frame : parser.feed(chunk)) {
              if (frame.event != "narration") continue;
              const n::ParsedLine line = n::parse_line(frame.data);
              if (const auto* event = std::get_if<n::Event>(&line)) feed->write(*event);
            }
            return !stop.load();
          });
      if (response.status != 200)
        now = fmt::format("HTTP {}{}", response.status,
                          response.status == 401 ? " (the orchestrator needs LLORCH_POOL_TOKEN, "
                                                   "the same as the pool manager's)"
                                                 : "");
    } catch (const std::exception& e) {
      // An idle feed times out: read again at once. Anything else is a problem worth a line.
      if (!net::is_timeout(e)) now = e.what();
    }
    if (now.empty()) {
      problem.clear();
      continue;
    }
    if (now != problem) {
      n::warn(n::actor::orchestrator, n::action::error)
          .target(url)
          .human("Cannot follow the narration of the pool at {}: {}; retrying every {} ms", url,
                 now, kRetry.count())
          .error_kind("POOL_FEED_UNAVAILABLE")
          .emit();
      problem = now;
    }
    for (auto waited = 0ms; waited < kRetry && !stop.load(); waited += 100ms)
      std::this_thread::sleep_for(100ms);
  }
}

}  // namespace llorch::orchestrator
