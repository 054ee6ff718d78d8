#include "narration/channel.hpp"

#include <fmt/format.h>

#include "narration/timestamp.hpp"
#include "narration/vocabulary.hpp"

namespace llorch::narration {
namespace {

Event drop_report(const Event& next, std::uint64_t count) {
  Event report;
  report.actor = actor::narration;
  report.action = action::events_dropped;
  report.target = "stream";
  report.level = Level::warn;
  report.human = fmt::format(
      "Dropped {} narration event{} because this stream's reader fell behind; tokens are "
      "unaffected",
      count, count == 1 ? "" : "s");
  report.correlation_id = next.correlation_id;
  report.job_id = next.job_id;
  report.worker_id = next.worker_id;
  report.pool_id = next.pool_id;
  report.dropped_events = static_cast<std::int64_t>(count);
  report.ts = next.ts.empty() ? now_timestamp() : next.ts;
  report.emitted_by = next.emitted_by;
  return report;
}

}  // namespace

EventChannel::EventChannel(std::size_t narration_capacity) : capacity_(narration_capacity) {}

bool EventChannel::push_narration(Event event) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (narration_waiting_ >= capacity_) {
      ++dropped_total_;
      ++dropped_unreported_;
      return false;
    }
    if (dropped_unreported_ > 0) {
      items_.emplace_back(drop_report(event, dropped_unreported_));
      ++narration_waiting_;
      dropped_unreported_ = 0;
    }
    items_.emplace_back(std::move(event));
    ++narration_waiting_;
  }
  notify();
  return true;
}

bool EventChannel::push(StreamMessage message) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    items_.emplace_back(std::move(message));
  }
  notify();
  return true;
}

std::optional<ChannelItem> EventChannel::pop() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !items_.empty() || closed_; });
  return take_front_locked();
}

std::optional<ChannelItem> EventChannel::pop_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; })) {
    return std::nullopt;
  }
  return take_front_locked();
}

std::optional<ChannelItem> EventChannel::take_front_locked() {
  if (items_.empty()) return std::nullopt;
  ChannelItem item = std::move(items_.front());
  items_.pop_front();
  if (std::holds_alternative<Event>(item)) --narration_waiting_;
  return item;
}

std::deque<ChannelItem> EventChannel::drain() {
  std::lock_guard lock(mutex_);
  std::deque<ChannelItem> taken;
  taken.swap(items_);
  narration_waiting_ = 0;
  return taken;
}

void EventChannel::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
  }
  notify();
}

bool EventChannel::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::uint64_t EventChannel::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_total_;
}

void EventChannel::set_on_ready(std::function<void()> on_ready) {
  auto callback =
      on_ready ? std::make_shared<const std::function<void()>>(std::move(on_ready)) : nullptr;
  std::lock_guard lock(mutex_);
  on_ready_ = std::move(callback);
}

void EventChannel::notify() {
  ready_.notify_all();
  std::shared_ptr<const std::function<void()>> callback;
  {
    std::lock_guard lock(mutex_);
    callback = on_ready_;
  }
  if (callback) (*callback)();
}

}  // namespace llorch::narration
