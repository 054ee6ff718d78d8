#include "state/nats_bucket.hpp"

#include <fmt/format.h>
#include <nats/nats.h>

#include <stdexcept>

namespace llorch::state {

namespace {

// The server's or the client's words for a failed call.
std::string reason(natsStatus status) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text != nullptr && *text != '\0') return text;
  return natsStatus_GetText(status);
}

std::string value_of(kvEntry* entry) {
  const auto* data = static_cast<const char*>(kvEntry_Value(entry));
  return {data, static_cast<std::size_t>(kvEntry_ValueLen(entry))};
}

}  // namespace

std::unique_ptr<NatsBucket> open_pool_registry(const StateConfig& config) {
  return std::make_unique<NatsBucket>(config, "llorch_pools", config.registry_ttl);
}

std::runtime_error NatsBucket::failure(std::string_view doing, int status) const {
  return std::runtime_error(fmt::format("NATS at {}: {} {}: {}", url_, doing, bucket_,
                                        reason(static_cast<natsStatus>(status))));
}

struct NatsBucket::Handles {
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* jetstream = nullptr;
  kvStore* store = nullptr;
  kvWatcher* watcher = nullptr;
  ~Handles() {
    if (watcher != nullptr) kvWatcher_Destroy(watcher);
    if (store != nullptr) kvStore_Destroy(store);
    if (jetstream != nullptr) jsCtx_Destroy(jetstream);
    if (connection != nullptr) natsConnection_Destroy(connection);
    if (options != nullptr) natsOptions_Destroy(options);
  }
};

NatsBucket::NatsBucket(const StateConfig& config, const std::string& bucket,
                       std::chrono::milliseconds ttl)
    : handles_(std::make_unique<Handles>()), url_(config.url), bucket_(bucket) {
  Handles& h = *handles_;
  const auto check = [&](natsStatus status, std::string_view doing, std::string_view fix) {
    if (status == NATS_OK) return;
    throw std::runtime_error(
        fmt::format("NATS at {}: {} failed: {}; {}", url_, doing, reason(status), fix));
  };
  check(natsOptions_Create(&h.options), "making the client options", "out of memory?");
  check(natsOptions_SetURL(h.options, config.url.c_str()), "reading the URL",
        "give --state nats://HOST:PORT");
  if (!config.token.empty()) natsOptions_SetToken(h.options, config.token.c_str());
  if (!config.user.empty())
    natsOptions_SetUserInfo(h.options, config.user.c_str(), config.password.c_str());
  natsOptions_SetTimeout(h.options, 2000);
  natsOptions_SetMaxReconnect(h.options, -1);  // ride out a restart of the server
  check(natsConnection_Connect(&h.connection, h.options), "connecting",
        "start nats-server with -js there, and check LLORCH_NATS_TOKEN or LLORCH_NATS_USER / "
        "LLORCH_NATS_PASSWORD");
  check(natsConnection_JetStream(&h.jetstream, h.connection, nullptr), "opening JetStream",
        "start nats-server with -js (JetStream)");
  if (js_KeyValue(&h.store, h.jetstream, bucket.c_str()) == NATS_OK) return;
  kvConfig kv;
  kvConfig_Init(&kv);
  kv.Bucket = bucket.c_str();
  kv.History = 1;
  kv.TTL = std::chrono::duration_cast<std::chrono::nanoseconds>(ttl).count();
  check(js_CreateKeyValue(&h.store, h.jetstream, &kv), fmt::format("creating bucket {}", bucket),
        "every process sharing the state must use the same --registry-ttl-ms; or the server "
        "has no JetStream (nats-server -js)");
}

NatsBucket::~NatsBucket() = default;

void NatsBucket::put(const std::string& key, std::string_view value) {
  uint64_t revision = 0;
  const natsStatus s = kvStore_Put(&revision, handles_->store, key.c_str(), value.data(),
                                   static_cast<int>(value.size()));
  if (s != NATS_OK) throw failure("put " + key + " in", s);
}

void NatsBucket::remove(const std::string& key) {
  const natsStatus s = kvStore_Delete(handles_->store, key.c_str());
  if (s != NATS_OK) throw failure("delete " + key + " from", s);
}

std::vector<std::pair<std::string, std::string>> NatsBucket::entries() {
  std::vector<std::pair<std::string, std::string>> out;
  kvKeysList keys{};
  const natsStatus s = kvStore_Keys(&keys, handles_->store, nullptr);
  if (s == NATS_NOT_FOUND) return out;  // no key at all
  if (s != NATS_OK) throw failure("the keys of", s);
  for (int i = 0; i < keys.Count; ++i) {
    kvEntry* entry = nullptr;
    if (kvStore_Get(&entry, handles_->store, keys.Keys[i]) != NATS_OK) continue;  // gone since
    out.emplace_back(keys.Keys[i], value_of(entry));
    kvEntry_Destroy(entry);
  }
  kvKeysList_Destroy(&keys);
  return out;
}

std::optional<NatsBucket::Change> NatsBucket::next_change(std::chrono::milliseconds timeout) {
  Handles& h = *handles_;
  if (h.watcher == nullptr) {
    const natsStatus s = kvStore_WatchAll(&h.watcher, h.store, nullptr);
    if (s != NATS_OK) throw failure("watching", s);
  }
  kvEntry* entry = nullptr;
  const natsStatus s = kvWatcher_Next(&entry, h.watcher, timeout.count());
  if (s == NATS_TIMEOUT) return std::nullopt;
  if (s != NATS_OK) {
    kvWatcher_Destroy(h.watcher);  // watch afresh next time
    h.watcher = nullptr;
    throw failure("watching", s);
  }
  if (entry == nullptr) return std::nullopt;  // the end of the entries there were at the start
  Change change{kvEntry_Key(entry), "", kvEntry_Operation(entry) != kvOp_Put};
  if (!change.deleted) change.value = value_of(entry);
  kvEntry_Destroy(entry);
  return change;
}

}  // namespace llorch::state
