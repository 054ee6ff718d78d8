// A supervised worker's life: starting → loading → ready ⇄ busy → draining → stopped, or crashed
// from any state before stopped.
#pragma once

#include <array>
#include <string_view>

namespace llorch::pool {

enum class WorkerState { starting, loading, ready, busy, draining, stopped, crashed, failed };

inline constexpr std::array kWorkerStates{
    WorkerState::starting, WorkerState::loading, WorkerState::ready,   WorkerState::busy,
    WorkerState::draining, WorkerState::stopped, WorkerState::crashed, WorkerState::failed,
};

constexpr std::string_view to_string(WorkerState state) noexcept {
  switch (state) {
    case WorkerState::starting:
      return "starting";  // spawned; nothing heard yet
    case WorkerState::loading:
      return "loading";  // it narrated that it is loading its model
    case WorkerState::ready:
      return "ready";  // called back; has a free slot
    case WorkerState::busy:
      return "busy";  // every slot is running a job
    case WorkerState::draining:
      return "draining";  // told to stop; finishing its jobs
    case WorkerState::stopped:
      return "stopped";  // exited after being told to
    case WorkerState::crashed:
      return "crashed";  // exited (or was killed) without being told to; restarts soon
    case WorkerState::failed:
      return "failed";  // will not be restarted: its model cannot load, or it crash-looped
  }
  return "unknown";
}

}  // namespace llorch::pool
