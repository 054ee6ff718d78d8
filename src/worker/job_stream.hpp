// Turns a job's channel into its SSE stream: frames with continuous ids, narration in the
// request's mode, and the end of the stream after the terminal event.
#pragma once

#include <atomic>
#include <memory>

#include "net/http_types.hpp"
#include "worker/job.hpp"

namespace llorch::worker {

class JobStream final : public net::FrameSource {
 public:
  // `live` counts open streams (shutdown waits for it to reach zero).
  JobStream(std::shared_ptr<Job> job, std::shared_ptr<std::atomic<int>> live);
  ~JobStream() override;

  bool pull(std::string& out) override;
  void set_wakeup(std::function<void()> wake) override;
  void on_disconnect() override;

 private:
  std::shared_ptr<Job> job_;
  std::shared_ptr<std::atomic<int>> live_;
  std::uint64_t next_id_ = 0;
};

}  // namespace llorch::worker
