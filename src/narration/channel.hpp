// The ordered channel of one request: narration events and the request's own messages (tokens,
// metrics, the terminal event) travel through it in emission order, to one consumer (the stream).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "narration/event.hpp"

namespace llorch::narration {

// A message the request's owner puts in the stream (a token, metrics, end). Never dropped.
struct StreamMessage {
  std::string type;  // SSE event name: "token", "metrics", "end", …
  std::string data;  // its JSON payload
  bool operator==(const StreamMessage&) const = default;
};

using ChannelItem = std::variant<Event, StreamMessage>;

// Thread-safe; any number of producers, one consumer. Policy, so that narration can never stall
// inference: narration is dropped (and counted) when `narration_capacity` items are waiting;
// StreamMessages are never dropped (the producer bounds them: a request has at most max_tokens
// tokens). The next narration event that fits is preceded by an "events_dropped" warning with the
// count. Nothing is accepted after close(); pop() drains what is left, then reports the end.
class EventChannel {
 public:
  explicit EventChannel(std::size_t narration_capacity = 1024);
  EventChannel(const EventChannel&) = delete;
  EventChannel& operator=(const EventChannel&) = delete;

  // Returns false when the event was dropped (channel full or closed). Never blocks for long.
  bool push_narration(Event event);
  // Returns false only when the channel is closed.
  bool push(StreamMessage message);

  // Waits until an item is available or the channel is closed and empty (then nullopt).
  std::optional<ChannelItem> pop();
  // Like pop(), but gives up after `timeout` (nullopt; check closed() to tell the two apart).
  std::optional<ChannelItem> pop_for(std::chrono::milliseconds timeout);
  // Everything waiting now, without blocking.
  std::deque<ChannelItem> drain();

  void close();
  bool closed() const;
  // Total narration events dropped so far.
  std::uint64_t dropped() const;

  // Called (outside the lock) after every accepted item and on close: lets an event loop consumer
  // schedule a drain instead of blocking a thread in pop(). May be set or cleared at any time.
  void set_on_ready(std::function<void()> on_ready);

 private:
  void notify();
  std::optional<ChannelItem> take_front_locked();  // caller holds mutex_

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<ChannelItem> items_;
  std::size_t narration_waiting_ = 0;
  std::uint64_t dropped_total_ = 0;
  std::uint64_t dropped_unreported_ = 0;
  bool closed_ = false;
  std::shared_ptr<const std::function<void()>> on_ready_;  // guarded by mutex_
};

}  // namespace llorch::narration
