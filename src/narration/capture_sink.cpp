#include "narration/capture_sink.hpp"

namespace llorch::narration {

void CaptureSink::write(const Event& event) {
  std::lock_guard lock(mutex_);
  events_.push_back(event);
}

std::vector<Event> CaptureSink::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::size_t CaptureSink::size() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

void CaptureSink::clear() {
  std::lock_guard lock(mutex_);
  events_.clear();
}

}  // namespace llorch::narration
