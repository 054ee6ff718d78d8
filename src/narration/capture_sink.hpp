// A sink that keeps events in memory, for tests. Each test makes its own: nothing is global.
#pragma once

#include <mutex>
#include <vector>

#include "narration/sink.hpp"

namespace llorch::narration {

// Thread-safe.
class CaptureSink final : public Sink {
 public:
  void write(const Event& event) override;
  std::vector<Event> events() const;
  std::size_t size() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

}  // namespace llorch::narration
