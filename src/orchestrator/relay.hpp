// Runs one task on one worker: POST /execute, then every event of the worker's stream into the
// task's stream as it arrives. Blocking: each running task has a thread for it.
#pragma once

#include <string>

#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

enum class RelayOutcome {
  finished,     // the worker's terminal event was relayed
  busy,         // the worker answered 503 SLOTS_BUSY: alive and serving others; wait for a slot
  refused,      // the worker answered 503 (draining) before streaming: place it elsewhere
  unreachable,  // no connection: place it elsewhere
  rejected,     // the worker judged the request invalid (4xx): an error event was relayed
  lost,         // the stream broke before its terminal event
  abandoned,    // cancelled before the worker took it; nothing was relayed
};

struct RelayResult {
  RelayOutcome outcome = RelayOutcome::finished;
  std::string problem;  // what went wrong, for narration
};

// The /execute body for a task.
std::string execute_body(const Task& task);

RelayResult relay_to_worker(Task& task, const Placement& where);

// Asks the worker's pool manager why the worker went away (its crash report), waiting up to
// `patience` for the pool to notice. Returns a sentence, or "" when the pool could not say.
std::string crash_report(const Placement& where, std::chrono::milliseconds patience);

// POST /cancel to the worker; returns false when the worker did not know the job (not yet
// started, already ended) or could not be reached.
bool cancel_on_worker(const Placement& where, const std::string& job_id,
                      const std::string& correlation_id);

}  // namespace llorch::orchestrator
