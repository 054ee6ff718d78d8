#include "state/event_log.hpp"

#include <fmt/format.h>

namespace llorch::state {

namespace {

constexpr const char* kStream = "LLORCH_EVENTS";

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
}

void EventLog::append(const std::string& task_id, std::string_view type, std::string_view data) {
  // "type\ndata": the type is one word, the data one line of JSON.
  std::string message;
  message.reserve(type.size() + 1 + data.size());
  message.append(type).append(1, '\n').append(data);
  jsErrCode code{};
  const natsStatus s = js_Publish(nullptr, link_->jetstream(), subject_of(task_id).c_str(),
                                  message.data(), static_cast<int>(message.size()), nullptr, &code);
  if (s != NATS_OK) throw link_->failure("storing an event of task " + task_id, s);
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
  natsSubscription* sub = nullptr;
  jsErrCode code{};
  const natsStatus s =
      js_Subscribe(&sub, link_->jetstream(), subject_of(task_id).c_str(),
                   &NatsSubscription::deliver, subscription->closure(), nullptr, &options, &code);
  if (s != NATS_OK) throw link_->failure("following the events of task " + task_id, s);
  subscription->attach(sub);
  return subscription;
}

}  // namespace llorch::state
