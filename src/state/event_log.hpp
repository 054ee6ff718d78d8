// Every task's events on the shared substrate: the JetStream stream LLORCH_EVENTS, one subject a
// task (llorch.events.<id>), each event kept twice `retention` (so that a task's first events
// outlive its record, which lives `retention` past its last change). The replica that holds a
// task appends its events in order; any replica follows them from the first one on (an ordered
// consumer), so a reader can resume through any replica.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "state/nats_link.hpp"

namespace llorch::state {

class EventLog {
 public:
  // Creates the stream or adopts it. Throws std::runtime_error with the server's reason.
  EventLog(std::shared_ptr<NatsLink> link, std::chrono::seconds retention);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Sent without waiting for the server: the events of one writer are stored in the order they
  // are appended. Throws when the client cannot send; a failure to store surfaces at flush().
  void append(const std::string& task_id, std::string_view type, std::string_view data);
  // Waits (up to `patience`) until everything appended so far is stored. Throws
  // std::runtime_error when something was not (with the server's reason) or time ran out.
  void flush(std::chrono::milliseconds patience);

  // Every event of the task, then each new one as it is appended, to `on_event` on the client's
  // delivery thread, until the subscription is destroyed.
  using OnEvent = std::function<void(std::string type, std::string data)>;
  std::unique_ptr<NatsSubscription> follow(const std::string& task_id, OnEvent on_event);

 private:
  static void failed(jsCtx* js, jsPubAckErr* error, void* closure);

  std::shared_ptr<NatsLink> link_;
  jsCtx* publisher_ = nullptr;  // its own context: flush() waits for this log's events alone
  std::mutex mutex_;
  std::string last_failure_;  // guarded by mutex_; taken by flush()
};

}  // namespace llorch::state
