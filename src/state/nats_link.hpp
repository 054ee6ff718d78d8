// One connection to the NATS server that holds the shared state, with its JetStream context:
// signed in with the configured credentials, reconnecting on its own when the server restarts.
// Core NATS messages (fire and forget) go through it too: a replica's cancel requests.
#pragma once

#include <nats/nats.h>

#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "state/state_url.hpp"

namespace llorch::state {

class NatsLink {
 public:
  // Connects. Throws std::runtime_error naming the server, the cause (unreachable, refused
  // credentials, no JetStream) and the fix.
  explicit NatsLink(const StateConfig& config);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  natsConnection* connection() const noexcept { return connection_; }
  jsCtx* jetstream() const noexcept { return jetstream_; }
  const std::string& url() const noexcept { return url_; }
  int replicas() const noexcept { return replicas_; }  // servers that keep each stream

  // "NATS at URL: <doing>: <the server's or client's reason>".
  std::runtime_error failure(std::string_view doing, natsStatus status) const;

  // Creates the JetStream stream `config` describes, kept on replicas() servers, or makes the
  // existing one match it (the latest process to start decides its limits). Throws with the
  // server's reason.
  void ensure_stream(jsStreamConfig config, std::string_view what);
  // The existing stream `name` (a bucket's) kept on replicas() servers and read from its leader
  // alone: a bucket is made with direct gets allowed, which any server keeping a copy answers,
  // and one catching up after a restart answers with an old value or none. True when it changed
  // (a bucket's handle opened before still reads as it did: open it again). Throws with the
  // server's reason.
  bool settle_bucket_stream(const std::string& name);

  // A core NATS message: no storage, no acknowledgement (throws when the client cannot send).
  void publish(const std::string& subject, std::string_view data);

 private:
  void release() noexcept;
  std::string on_servers() const;  // " on N servers (…)" for a failure, when N > 1

  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* jetstream_ = nullptr;
  std::string url_;
  int replicas_ = 1;
};

// A subscription whose messages go to a callback on the client's delivery thread, until it is
// destroyed: then no callback starts, and one running finishes on its own. Made in two steps,
// because core and JetStream subscriptions are made with different calls: construct, subscribe
// with deliver() and closure(), then attach() what the call made.
class NatsSubscription {
 public:
  using Handler = std::function<void(natsMsg* message)>;  // the message stays the caller's
  NatsSubscription(std::shared_ptr<const NatsLink> link, Handler handler);
  ~NatsSubscription();
  NatsSubscription(const NatsSubscription&) = delete;
  NatsSubscription& operator=(const NatsSubscription&) = delete;

  static void deliver(natsConnection*, natsSubscription*, natsMsg* message, void* closure);
  void* closure() const noexcept { return closure_; }
  void attach(natsSubscription* sub);

  // Core NATS: live messages on `subject`.
  static std::unique_ptr<NatsSubscription> core(std::shared_ptr<const NatsLink> link,
                                                const std::string& subject, Handler handler);

 private:
  struct Delivery {
    std::mutex mutex;
    Handler handler;
  };
  std::shared_ptr<const NatsLink> link_;  // the connection outlives its subscriptions
  std::shared_ptr<Delivery> delivery_;
  // What the client holds: a copy of delivery_, freed once the client calls no more.
  std::shared_ptr<Delivery>* closure_;
  natsSubscription* sub_ = nullptr;
};

// The bytes of a message's payload.
std::string_view payload(natsMsg* message);

}  // namespace llorch::state
