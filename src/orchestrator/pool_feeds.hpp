// The pools' narration in the orchestrator's feed: one reader per known pool follows that pool
// manager's GET /v1/narration (with the pool API token) and writes each line into the
// orchestrator's NarrationFeed, so that an operator sees every host's narration at the
// orchestrator's /v1/narration and /ui/system. The lines go to the feed alone, not to the
// orchestrator's stdout: each pool manager logs its own.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/narration_feed.hpp"

namespace llorch::orchestrator {

class PoolFeeds {
 public:
  PoolFeeds(std::shared_ptr<api::NarrationFeed> feed, std::string pool_api_token);
  ~PoolFeeds();  // stop()
  PoolFeeds(const PoolFeeds&) = delete;
  PoolFeeds& operator=(const PoolFeeds&) = delete;

  // Follows exactly these pool manager URLs from now on: readers start for new ones and stop for
  // the ones gone. Never blocks on a reader.
  void follow(const std::vector<std::string>& pool_urls);
  // Stops every reader and waits for them (each notices within a second).
  void stop();

 private:
  struct Reader {
    std::shared_ptr<std::atomic<bool>> stop;
    std::shared_ptr<std::atomic<bool>> done;
    std::thread thread;
  };
  static void read(const std::string& url, const std::string& token,
                   const std::shared_ptr<api::NarrationFeed>& feed, const std::atomic<bool>& stop);
  void join_finished();

  std::shared_ptr<api::NarrationFeed> feed_;
  std::string token_;
  std::mutex mutex_;  // follow (the io thread) and stop (shutdown) may overlap
  std::map<std::string, Reader> readers_;
  std::vector<Reader> retired_;  // told to stop; joined once done
};

}  // namespace llorch::orchestrator
