#include "state/event_log.hpp"

#include <fmt/format.h>

namespace llorch::state {

namespace {

constexpr const char* kStream = "LLORCH_EVENTS";
// How long the server may take to confirm an event stored (a cluster electing a new leader for
// the stream takes a few seconds).
constexpr std::chrono::seconds kAckWait{5};
// A reader's consumer is asked for this many times, waiting this long each time.
constexpr int kFollowAttempts = 3;
constexpr std::chrono::milliseconds kFollowWait{1500};

std::string subject_of(const std::string& task_id) {
  return "llorch.events." + task_id;
}

}  // namespace

EventLog::EventLog(std::shared_ptr<NatsLink> link, std::chrono::seconds retention)
    : link_(std::move(link)) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  const char* subjects[] = {"llorch.events.>"};
  config.Name = kStream;
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.MaxAge = std::chrono::duration_cast<std::chrono::nanoseconds>(2 * retention).count();
  config.Storage = js_FileStorage;
  link_->ensure_stream(config, "the event stream");
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 4096;
  options.PublishAsync.StallWait = 2000;  // a server that slow: append() waits, then throws
  options.PublishAsync.ErrHandler = &EventLog::failed;
  options.PublishAsync.ErrHandlerClosure = this;
  const natsStatus s = natsConnection_JetStream(&publisher_, link_->connection(), &options);
  if (s != NATS_OK) throw link_->failure("opening JetStream for the event stream", s);
}

EventLog::~EventLog() {
  if (publisher_ == nullptr) return;
  try {
    flush(std::chrono::milliseconds(2000));
  } catch (const std::exception&) {
    // Stopping: what could not be stored is lost either way.
  }
  jsCtx_Destroy(publisher_);
}

void EventLog::failed(jsCtx*, jsPubAckErr* error, void* closure) {
  auto& log = *static_cast<EventLog*>(closure);
  const char* subject = error->Msg != nullptr ? natsMsg_GetSubject(error->Msg) : "?";
  std::lock_guard lock(log.mutex_);
  if (log.last_failure_.empty())
    log.last_failure_ =
        fmt::format("storing an event on {}: {}", subject,
                    error->ErrText != nullptr ? error->ErrText : natsStatus_GetText(error->Err));
}

void EventLog::flush(std::chrono::milliseconds patience) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = patience.count();
  const natsStatus s = js_PublishAsyncComplete(publisher_, &options);
  std::string failure;
  {
    std::lock_guard lock(mutex_);
    failure.swap(last_failure_);
  }
  if (!failure.empty())
    throw std::runtime_error(fmt::format("NATS at {}: {}", link_->url(), failure));
  if (s != NATS_OK) throw link_->failure("waiting for events to be stored", s);
}

void EventLog::append(const std::string& task_id, std::string_view type, std::string_view data) {
  // "type\ndata": the type is one word, the data one line of JSON.
  std::string message;
  message.reserve(type.size() + 1 + data.size());
  message.append(type).append(1, '\n').append(data);
  // An acknowledgement that does not come within the wait (the server that took the event
  // died, and the client reconnected to another) is a failure flush() reports, not an event
  // pending for ever that every later flush() would wait for.
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = std::chrono::duration_cast<std::chrono::milliseconds>(kAckWait).count();
  const natsStatus s = js_PublishAsync(publisher_, subject_of(task_id).c_str(), message.data(),
                                       static_cast<int>(message.size()), &options);
  if (s != NATS_OK) throw link_->failure("sending an event of task " + task_id, s);
}

std::unique_ptr<NatsSubscription> EventLog::follow(const std::string& task_id, OnEvent on_event) {
  auto subscription =
      std::make_unique<NatsSubscription>(link_, [on_event = std::move(on_event)](natsMsg* message) {
        const std::string_view text = payload(message);
        const auto newline = text.find('\n');
        if (newline == std::string_view::npos) return;  // not one of ours
        on_event(std::string(text.substr(0, newline)), std::string(text.substr(newline + 1)));
      });
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = kStream;
  options.Ordered = true;  // in order, each once, from the first event on
  options.Config.DeliverPolicy = js_DeliverAll;
  // The server places the consumer on one of the servers keeping the stream, and nats-server 2.9
  // may pick one that is down: its creation then goes unanswered. Asked again, it lands
  // elsewhere; a short wait each time keeps the reader's wait short.
  jsOptions wait;
  jsOptions_Init(&wait);
  wait.Wait = std::chrono::duration_cast<std::chrono::milliseconds>(kFollowWait).count();
  natsSubscription* sub = nullptr;
  natsStatus s = NATS_TIMEOUT;
  for (int attempt = 0; attempt < kFollowAttempts && s == NATS_TIMEOUT; ++attempt) {
    jsErrCode code{};
    s = js_Subscribe(&sub, link_->jetstream(), subject_of(task_id).c_str(),
                     &NatsSubscription::deliver, subscription->closure(), &wait, &options, &code);
  }
  if (s != NATS_OK) throw link_->failure("following the events of task " + task_id, s);
  subscription->attach(sub);
  return subscription;
}

}  // namespace llorch::state
