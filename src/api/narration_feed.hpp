// GET /v1/narration: every narration line this process logs (a pool manager: its own and its
// workers'; an orchestrator: its own, and in `llorch serve` the pool's too),
// fanned out to any number of operators as an SSE stream.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "narration/channel.hpp"
#include "narration/sink.hpp"
#include "net/http_types.hpp"

namespace llorch::api {

// A narration sink that copies each event into every subscriber's channel. A subscriber that
// reads too slowly loses narration (counted, and reported in its stream), never stalls the pool.
class NarrationFeed : public narration::Sink {
 public:
  void write(const narration::Event& event) override;

  // A new subscriber's stream: `event: narration` frames whose data is the full narration record.
  std::shared_ptr<net::FrameSource> subscribe();
  // Ends every stream (shutdown).
  void close_all();
  std::size_t subscribers() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::weak_ptr<narration::EventChannel>> channels_;
  bool closed_ = false;
};

}  // namespace llorch::api
