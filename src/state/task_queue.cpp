#include "state/task_queue.hpp"

#include <fmt/format.h>

namespace llorch::state {

namespace {

constexpr const char* kStream = "LLORCH_QUEUE";
constexpr const char* kSubject = "llorch.queue";
constexpr const char* kConsumer = "llorch_dispatch";
// How long a task handed to a replica waits for its acknowledgement before another gets it: a
// claim is two round trips, so only a replica that died holding it makes anyone wait this long.
constexpr std::chrono::seconds kAckWait{5};

}  // namespace

struct TaskQueue::Handles {
  natsSubscription* consumer = nullptr;
  ~Handles() {
    if (consumer != nullptr) natsSubscription_Destroy(consumer);
  }
};

TaskQueue::TaskQueue(std::shared_ptr<NatsLink> link, std::size_t capacity)
    : link_(std::move(link)), handles_(std::make_unique<Handles>()) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  const char* subjects[] = {kSubject};
  config.Name = kStream;
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Retention = js_WorkQueuePolicy;
  config.MaxMsgs = static_cast<int64_t>(capacity);
  config.Discard = js_DiscardNew;  // a full queue refuses; it never drops a waiting task
  config.Storage = js_FileStorage;
  link_->ensure_stream(config, "the task queue");

  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = kStream;
  options.Config.AckPolicy = js_AckExplicit;
  options.Config.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(kAckWait).count();
  jsErrCode code{};
  const natsStatus s = js_PullSubscribe(&handles_->consumer, link_->jetstream(), kSubject,
                                        kConsumer, nullptr, &options, &code);
  if (s != NATS_OK) throw link_->failure(fmt::format("consuming the task queue {}", kStream), s);
}

TaskQueue::~TaskQueue() = default;

bool TaskQueue::push(const std::string& task_id, const std::string& once) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = once.c_str();
  jsErrCode code{};
  const natsStatus s = js_Publish(nullptr, link_->jetstream(), kSubject, task_id.data(),
                                  static_cast<int>(task_id.size()), &options, &code);
  if (s == NATS_OK) return true;
  // The server's "maximum messages exceeded": the bound this stream was made with.
  if (code == JSStreamStoreFailedErr) return false;
  throw link_->failure("queueing task " + task_id, s);
}

std::size_t TaskQueue::waiting() {
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  const natsStatus s = js_GetStreamInfo(&info, link_->jetstream(), kStream, nullptr, &code);
  if (s != NATS_OK) throw link_->failure("reading the task queue", s);
  const auto messages = static_cast<std::size_t>(info->State.Msgs);
  jsStreamInfo_Destroy(info);
  return messages;
}

std::unique_ptr<TaskQueue::Taken> TaskQueue::take(std::chrono::milliseconds timeout) {
  natsMsgList list{};
  jsErrCode code{};
  const natsStatus s = natsSubscription_Fetch(&list, handles_->consumer, 1, timeout.count(), &code);
  if (s == NATS_TIMEOUT) return nullptr;
  if (s != NATS_OK) throw link_->failure("taking from the task queue", s);
  std::unique_ptr<Taken> taken;
  if (list.Count > 0) {
    natsMsg* message = list.Msgs[0];
    list.Msgs[0] = nullptr;  // now the Taken's
    taken.reset(new Taken(message, std::string(payload(message))));
  }
  natsMsgList_Destroy(&list);
  return taken;
}

TaskQueue::Taken::~Taken() {
  natsMsg_Destroy(message_);
}

void TaskQueue::Taken::done() {
  // Synchronous: once it returns, no other replica can be handed this task.
  natsMsg_AckSync(message_, nullptr, nullptr);
}

void TaskQueue::Taken::later(std::chrono::milliseconds delay) {
  natsMsg_NakWithDelay(message_, delay.count(), nullptr);
}

}  // namespace llorch::state
