// The front end: a Narrator prepares each event and hands it to its sinks and to the current
// request's channel. narrate() sends an event through the current thread's narrator.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "narration/event.hpp"
#include "narration/sink.hpp"

namespace llorch::narration {

// Who this process is; stamped on every event it emits.
struct Identity {
  std::string component = "llorch";  // emitted_by is "<component>@<version>"
  std::string worker_id;
  std::string pool_id;
};

// Owns its sinks. Configure (add_sink) before other threads use it; after that emit() is
// thread-safe and lock-free apart from what each sink does.
class Narrator {
 public:
  explicit Narrator(Level min_level = Level::info, Identity identity = {});

  void add_sink(std::shared_ptr<Sink> sink);
  void set_level(Level level) noexcept { min_level_.store(level, std::memory_order_relaxed); }
  Level level() const noexcept { return min_level_.load(std::memory_order_relaxed); }
  bool enabled(Level level) const noexcept { return level >= this->level(); }
  const Identity& identity() const noexcept { return identity_; }

  // Fills ts, emitted_by and the ids (from the current RequestScope and the identity), redacts
  // secrets, sanitizes text, writes to every sink, then — inside a RequestScope with a channel —
  // pushes the event into that channel. Events below the level are discarded first.
  void emit(Event event);

  // Exceptions thrown by sinks so far (each was swallowed).
  std::uint64_t sink_failures() const noexcept { return sink_failures_.load(); }

  // The narrator of the calling thread: the innermost ScopedNarrator's, else the process's.
  static Narrator& current() noexcept;
  // Replaces the process's narrator (main() does this once, at start). The previous one stays
  // alive until exit, so threads still holding it are safe.
  static void install(std::shared_ptr<Narrator> narrator);

 private:
  void prepare(Event& event) const;

  std::atomic<Level> min_level_;
  Identity identity_;
  std::string emitted_by_;
  std::vector<std::shared_ptr<Sink>> sinks_;
  std::atomic<std::uint64_t> sink_failures_{0};
};

// RAII: makes `narrator` the current thread's narrator (tests use it to capture their own events
// without touching the process's). Restores the previous one on destruction.
class ScopedNarrator {
 public:
  explicit ScopedNarrator(Narrator& narrator) noexcept;
  ~ScopedNarrator();
  ScopedNarrator(const ScopedNarrator&) = delete;
  ScopedNarrator& operator=(const ScopedNarrator&) = delete;

 private:
  Narrator* previous_;
};

inline void narrate(Event event) {
  Narrator::current().emit(std::move(event));
}

}  // namespace llorch::narration
