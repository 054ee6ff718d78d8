#include "api/narration_feed.hpp"

#include "api/stream_events.hpp"
#include "narration/json_line.hpp"
#include "narration/narrate.hpp"

namespace llorch::api {

namespace n = llorch::narration;

namespace {

class FeedStream : public net::FrameSource {
 public:
  explicit FeedStream(std::shared_ptr<n::EventChannel> channel) : channel_(std::move(channel)) {}
  ~FeedStream() override {
    channel_->set_on_ready({});
    channel_->close();
  }

  bool pull(std::string& out) override {
    const bool was_closed = channel_->closed();
    for (const auto& item : channel_->drain()) {
      if (const auto* event = std::get_if<n::Event>(&item))
        out += sse_frame(next_id_++, "narration", n::to_json_line(*event));
    }
    return !was_closed;
  }
  void set_wakeup(std::function<void()> wake) override { channel_->set_on_ready(std::move(wake)); }
  void on_disconnect() override { channel_->close(); }

 private:
  std::shared_ptr<n::EventChannel> channel_;
  std::uint64_t next_id_ = 0;
};

}  // namespace

void NarrationFeed::write(const n::Event& event) {
  std::vector<std::shared_ptr<n::EventChannel>> live;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(channels_, [&](const auto& weak) {
      auto channel = weak.lock();
      if (!channel || channel->closed()) return true;
      live.push_back(std::move(channel));
      return false;
    });
  }
  for (const auto& channel : live) channel->push_narration(event);
}

std::shared_ptr<net::FrameSource> NarrationFeed::subscribe() {
  auto channel = std::make_shared<n::EventChannel>(4096);
  std::lock_guard lock(mutex_);
  if (closed_) {
    channel->close();
  } else {
    channels_.push_back(channel);
  }
  return std::make_shared<FeedStream>(std::move(channel));
}

void NarrationFeed::close_all() {
  std::vector<std::shared_ptr<n::EventChannel>> live;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (const auto& weak : channels_)
      if (auto channel = weak.lock()) live.push_back(std::move(channel));
    channels_.clear();
  }
  for (const auto& channel : live) channel->close();
}

std::size_t NarrationFeed::subscribers() const {
  std::lock_guard lock(mutex_);
  return channels_.size();
}

}  // namespace llorch::api
