// The shared queue of tasks: a JetStream work-queue stream (LLORCH_QUEUE) that every
// orchestrator replica takes from through one durable pull consumer, so each task is handed to
// exactly one of them. It holds task ids (the task itself is in the llorch_tasks bucket), at most
// `capacity`: past that, a push is refused and the user gets 429. A replica acknowledges a task
// once it has claimed it; one that dies before that has it handed to another after the ack wait.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "state/nats_link.hpp"

namespace llorch::state {

class TaskQueue {
 public:
  // Creates the stream and the consumer, or adopts them (the capacity is set to `capacity`: the
  // latest replica to start decides). Throws std::runtime_error with the server's reason.
  TaskQueue(std::shared_ptr<NatsLink> link, std::size_t capacity);
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // false: the queue is full. Throws on any other failure. Pushes with the same `once` key within
  // two minutes are stored once (a push retried after a lost answer); a task put back in the
  // queue needs a new key.
  bool push(const std::string& task_id, const std::string& once);
  // Tasks in the queue, those handed out and not yet acknowledged included.
  std::size_t waiting();

  // A task handed to this replica.
  class Taken {
   public:
    ~Taken();
    Taken(const Taken&) = delete;
    Taken& operator=(const Taken&) = delete;
    const std::string& task_id() const noexcept { return task_id_; }
    void done();                              // claimed: gone from the queue
    void later(std::chrono::milliseconds d);  // not now: handed out again after `d`

   private:
    friend class TaskQueue;
    Taken(natsMsg* message, std::string id) : message_(message), task_id_(std::move(id)) {}
    natsMsg* message_;
    std::string task_id_;
  };
  // The next task, waiting up to `timeout` (nullptr: none came).
  std::unique_ptr<Taken> take(std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<NatsLink> link_;
  struct Handles;
  std::unique_ptr<Handles> handles_;
};

}  // namespace llorch::state
