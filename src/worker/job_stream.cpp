#include "worker/job_stream.hpp"

#include "api/stream_events.hpp"
#include "narration/narrate.hpp"

namespace llorch::worker {

namespace n = llorch::narration;

JobStream::JobStream(std::shared_ptr<Job> job, std::shared_ptr<std::atomic<int>> live)
    : job_(std::move(job)), live_(std::move(live)) {
  live_->fetch_add(1);
}

JobStream::~JobStream() {
  job_->context.channel->set_on_ready({});
  live_->fetch_sub(1);
}

bool JobStream::pull(std::string& out) {
  auto& channel = *job_->context.channel;
  // Nothing is accepted after close, so a drain that follows a "closed" answer takes the rest.
  const bool was_closed = channel.closed();
  for (const auto& item : channel.drain()) {
    if (const auto* event = std::get_if<n::Event>(&item)) {
      out += api::sse_frame(next_id_++, "narration",
                            api::narration_event(*event, job_->request.narration_mode));
    } else {
      const auto& message = std::get<n::StreamMessage>(item);
      out += api::sse_frame(next_id_++, message.type, message.data);
    }
  }
  return !was_closed;
}

void JobStream::set_wakeup(std::function<void()> wake) {
  job_->context.channel->set_on_ready(std::move(wake));
}

void JobStream::on_disconnect() {
  if (job_->cancel.exchange(true)) return;
  n::RequestScope scope({job_->context.correlation_id, job_->context.job_id, nullptr});
  n::info(n::actor::http_server, n::action::client_disconnected)
      .target(job_->context.job_id)
      .human("Client disconnected from job {}; cancelling it", job_->context.job_id)
      .cute("Our listener left, so we tiptoe out too 👋")
      .emit();
}

}  // namespace llorch::worker
