// What the orchestrator accepts from a worker's stream before relaying it to a user. A worker —
// or anything registered as one — may send anything: each frame is checked, and one that breaks
// the contract ends the user's stream with an error event instead of reaching them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/sse_parser.hpp"
#include "orchestrator/task.hpp"

namespace llorch::orchestrator {

// The problem with one worker frame (`type` is the SSE event name, `data` its data), or nullopt
// when it is a frame of the contract: started, narration, token (with a string `t`), metrics,
// end (with a known stop_reason) or error, each a JSON object.
std::optional<std::string> check_worker_frame(const std::string& type, const std::string& data);

// A well-formed error frame from whatever a worker sent as its error: its code and message when
// they are strings, else a code and message that say the worker failed.
std::string normalized_worker_error(const std::string& data, const std::string& correlation_id);

// A worker's answer that was not a stream (an error body of any shape): its code and message.
struct WorkerRefusal {
  std::string code;     // "" when the body named none
  std::string message;  // at most 200 bytes
};
WorkerRefusal read_refusal(const std::string& body);

// Reads a worker's /execute stream into a task, frame by frame: each frame checked, error frames
// normalized, nothing after the terminal frame taken.
class WorkerStreamReader {
 public:
  explicit WorkerStreamReader(Task& task) : task_(task) {}
  // Feeds the bytes of one read; false once nothing more is wanted (a terminal frame was relayed,
  // or the stream broke the contract).
  bool feed(std::string_view chunk);
  bool terminal() const noexcept { return terminal_; }
  // What broke the contract ("" when nothing did); the task has not been told yet.
  const std::string& broken() const noexcept { return broken_; }
  // Ends the task with WORKER_PROTOCOL_ERROR naming `worker_id` and what it sent.
  void end_broken(const std::string& worker_id);

 private:
  Task& task_;
  api::SseParser parser_;
  bool terminal_ = false;
  std::string broken_;
};

}  // namespace llorch::orchestrator
