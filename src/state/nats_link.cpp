#include "state/nats_link.hpp"

#include <fmt/format.h>

#include <vector>

namespace llorch::state {

namespace {

// The server's or the client's words for a failed call.
std::string reason(natsStatus status) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text != nullptr && *text != '\0') return text;
  return natsStatus_GetText(status);
}

}  // namespace

NatsLink::NatsLink(const StateConfig& config) : url_(config.url), replicas_(config.replicas) {
  const auto check = [&](natsStatus status, std::string_view doing, std::string_view fix) {
    if (status == NATS_OK) return;
    const std::string why = reason(status);
    release();  // the constructor does not finish: free what it made
    throw std::runtime_error(fmt::format("NATS at {}: {} failed: {}; {}", url_, doing, why, fix));
  };
  check(natsOptions_Create(&options_), "making the client options", "out of memory?");
  std::vector<const char*> servers;
  for (const auto& server : config.servers) servers.push_back(server.c_str());
  check(natsOptions_SetServers(options_, servers.data(), static_cast<int>(servers.size())),
        "reading the URL", "give --state nats://HOST:PORT[,nats://HOST:PORT…]");
  if (!config.token.empty()) natsOptions_SetToken(options_, config.token.c_str());
  if (!config.user.empty())
    natsOptions_SetUserInfo(options_, config.user.c_str(), config.password.c_str());
  if (!config.client_name.empty()) natsOptions_SetName(options_, config.client_name.c_str());
  natsOptions_SetTimeout(options_, 2000);
  natsOptions_SetMaxReconnect(options_, -1);  // ride out a restart of the server
  check(natsConnection_Connect(&connection_, options_), "connecting",
        "start nats-server with -js there, and check LLORCH_NATS_TOKEN or LLORCH_NATS_USER / "
        "LLORCH_NATS_PASSWORD");
  check(natsConnection_JetStream(&jetstream_, connection_, nullptr), "opening JetStream",
        "start nats-server with -js (JetStream)");
}

NatsLink::~NatsLink() {
  release();
}

void NatsLink::release() noexcept {
  if (jetstream_ != nullptr) jsCtx_Destroy(jetstream_);
  if (connection_ != nullptr) natsConnection_Destroy(connection_);
  if (options_ != nullptr) natsOptions_Destroy(options_);
  jetstream_ = nullptr;
  connection_ = nullptr;
  options_ = nullptr;
}

std::runtime_error NatsLink::failure(std::string_view doing, natsStatus status) const {
  return std::runtime_error(fmt::format("NATS at {}: {}: {}", url_, doing, reason(status)));
}

void NatsLink::ensure_stream(jsStreamConfig config, std::string_view what) {
  // By value: the client takes a pointer to non-const.
  config.Replicas = replicas_;
  jsErrCode code{};
  jsStreamInfo* info = nullptr;
  natsStatus s = js_AddStream(&info, jetstream_, &config, nullptr, &code);
  if (s != NATS_OK && code == JSStreamNameExistErr)
    s = js_UpdateStream(&info, jetstream_, &config, nullptr, &code);
  if (info != nullptr) jsStreamInfo_Destroy(info);
  if (s != NATS_OK)
    throw failure(fmt::format("making {} {}{}", what, config.Name, on_servers()), s);
}

bool NatsLink::settle_bucket_stream(const std::string& name) {
  jsErrCode code{};
  jsStreamInfo* info = nullptr;
  natsStatus s = js_GetStreamInfo(&info, jetstream_, name.c_str(), nullptr, &code);
  bool changed = false;
  if (s == NATS_OK && (info->Config->Replicas != replicas_ || info->Config->AllowDirect)) {
    jsStreamConfig config = *info->Config;  // its strings stay info's until it is destroyed
    config.Replicas = replicas_;
    config.AllowDirect = false;
    jsStreamInfo* updated = nullptr;
    s = js_UpdateStream(&updated, jetstream_, &config, nullptr, &code);
    if (updated != nullptr) jsStreamInfo_Destroy(updated);
    changed = s == NATS_OK;
  }
  if (info != nullptr) jsStreamInfo_Destroy(info);
  if (s != NATS_OK) throw failure(fmt::format("keeping stream {}{}", name, on_servers()), s);
  return changed;
}

std::string NatsLink::on_servers() const {
  if (replicas_ == 1) return "";
  return fmt::format(" on {} servers (is the cluster that large? --state-replicas)", replicas_);
}

void NatsLink::publish(const std::string& subject, std::string_view data) {
  const natsStatus s = natsConnection_Publish(connection_, subject.c_str(), data.data(),
                                              static_cast<int>(data.size()));
  if (s != NATS_OK) throw failure("publishing on " + subject, s);
}

NatsSubscription::NatsSubscription(std::shared_ptr<const NatsLink> link, Handler handler)
    : link_(std::move(link)), delivery_(std::make_shared<Delivery>()) {
  delivery_->handler = std::move(handler);
  closure_ = new std::shared_ptr<Delivery>(delivery_);
}

NatsSubscription::~NatsSubscription() {
  {
    std::lock_guard lock(delivery_->mutex);
    delivery_->handler = nullptr;
  }
  if (sub_ == nullptr) {
    delete closure_;  // never attached: the client holds nothing
    return;
  }
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
}

void NatsSubscription::deliver(natsConnection*, natsSubscription*, natsMsg* message,
                               void* closure) {
  auto& delivery = **static_cast<std::shared_ptr<Delivery>*>(closure);
  {
    std::lock_guard lock(delivery.mutex);
    if (delivery.handler) delivery.handler(message);
  }
  natsMsg_Destroy(message);
}

void NatsSubscription::attach(natsSubscription* sub) {
  sub_ = sub;
  // The closure is freed when the client is done with it: after the last callback.
  natsSubscription_SetOnCompleteCB(
      sub_, [](void* closure) { delete static_cast<std::shared_ptr<Delivery>*>(closure); },
      closure_);
}

std::unique_ptr<NatsSubscription> NatsSubscription::core(std::shared_ptr<const NatsLink> link,
                                                         const std::string& subject,
                                                         Handler handler) {
  auto subscription = std::make_unique<NatsSubscription>(link, std::move(handler));
  natsSubscription* sub = nullptr;
  const natsStatus s =
      natsConnection_Subscribe(&sub, link->connection(), subject.c_str(),
                               &NatsSubscription::deliver, subscription->closure());
  if (s != NATS_OK) throw link->failure("subscribing to " + subject, s);
  subscription->attach(sub);
  return subscription;
}

std::string_view payload(natsMsg* message) {
  return {natsMsg_GetData(message), static_cast<std::size_t>(natsMsg_GetDataLength(message))};
}

}  // namespace llorch::state
