#include "state/nats_bucket.hpp"

#include <fmt/format.h>
#include <nats/nats.h>

#include <stdexcept>

#include "state/nats_link.hpp"

namespace llorch::state {

namespace {

std::string value_of(kvEntry* entry) {
  const auto* data = static_cast<const char*>(kvEntry_Value(entry));
  return {data, static_cast<std::size_t>(kvEntry_ValueLen(entry))};
}

// A compare-and-set the server refused because the entry moved on (or exists already): the
// client passes on the server's "wrong last sequence" without its code.
bool lost_race(natsStatus status) {
  if (status != NATS_ERR) return false;
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  return text != nullptr &&
         std::string_view(text).find("wrong last sequence") != std::string_view::npos;
}

}  // namespace

std::unique_ptr<NatsBucket> open_pool_registry(const StateConfig& config,
                                               std::shared_ptr<NatsLink> link) {
  constexpr const char* kPools = "llorch_pools";
  if (link) return std::make_unique<NatsBucket>(std::move(link), kPools, config.registry_ttl);
  return std::make_unique<NatsBucket>(config, kPools, config.registry_ttl);
}

std::runtime_error NatsBucket::failure(std::string_view doing, int status) const {
  return link_->failure(fmt::format("{} {}", doing, bucket_), static_cast<natsStatus>(status));
}

struct NatsBucket::Handles {
  kvStore* store = nullptr;
  kvWatcher* watcher = nullptr;
  ~Handles() {
    if (watcher != nullptr) kvWatcher_Destroy(watcher);
    if (store != nullptr) kvStore_Destroy(store);
  }
};

NatsBucket::NatsBucket(const StateConfig& config, const std::string& bucket,
                       std::chrono::milliseconds ttl)
    : NatsBucket(std::make_shared<NatsLink>(config), bucket, ttl) {}

NatsBucket::NatsBucket(std::shared_ptr<NatsLink> link, const std::string& bucket,
                       std::chrono::milliseconds ttl)
    : handles_(std::make_unique<Handles>()),
      link_(std::move(link)),
      bucket_(bucket),
      stream_("KV_" + bucket) {
  Handles& h = *handles_;
  if (js_KeyValue(&h.store, link_->jetstream(), bucket.c_str()) != NATS_OK) create(ttl);
  // Kept on as many servers as this process says (the latest to start decides, as for streams),
  // and read from the stream's leader alone.
  if (!link_->settle_bucket_stream(stream_)) return;
  kvStore_Destroy(h.store);
  h.store = nullptr;
  const natsStatus s = js_KeyValue(&h.store, link_->jetstream(), bucket.c_str());
  if (s != NATS_OK) throw failure("opening", s);
}

void NatsBucket::create(std::chrono::milliseconds ttl) {
  kvConfig kv;
  kvConfig_Init(&kv);
  kv.Bucket = bucket_.c_str();
  kv.History = 1;
  kv.Replicas = link_->replicas();
  kv.TTL = std::chrono::duration_cast<std::chrono::nanoseconds>(ttl).count();
  const natsStatus s = js_CreateKeyValue(&handles_->store, link_->jetstream(), &kv);
  if (s == NATS_OK) return;
  throw std::runtime_error(fmt::format(
      "{}; every process sharing the state must use the same --registry-ttl-ms; or the server "
      "has no JetStream (nats-server -js), or the cluster has fewer servers than "
      "--state-replicas",
      link_->failure("creating bucket " + bucket_, s).what()));
}

NatsBucket::~NatsBucket() = default;

const std::string& NatsBucket::url() const noexcept {
  return link_->url();
}

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
  // The keys are the subjects the bucket's stream holds, read from its state: no consumer, unlike
  // kvStore_Keys. Cheaper, for a read every second, and sound while a server of the cluster is
  // down (nats-server 2.9 may place the ephemeral consumer that kvStore_Keys makes on it, and the
  // call then times out).
  const std::string prefix = "$KV." + bucket_ + ".";
  const std::string filter = prefix + ">";
  jsOptions options;
  jsOptions_Init(&options);
  options.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  const natsStatus s =
      js_GetStreamInfo(&info, link_->jetstream(), stream_.c_str(), &options, &code);
  if (s != NATS_OK) throw failure("the keys of", s);
  std::vector<std::string> keys;
  if (const jsStreamStateSubjects* subjects = info->State.Subjects; subjects != nullptr) {
    for (int i = 0; i < subjects->Count; ++i)
      keys.emplace_back(std::string_view(subjects->List[i].Subject).substr(prefix.size()));
  }
  jsStreamInfo_Destroy(info);
  // A deleted key's subject stays (its last message marks the delete): get() skips it.
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& key : keys)
    if (auto entry = get(key)) out.emplace_back(key, std::move(entry->value));
  return out;
}

std::optional<NatsBucket::Versioned> NatsBucket::get(const std::string& key) {
  kvEntry* entry = nullptr;
  const natsStatus s = kvStore_Get(&entry, handles_->store, key.c_str());
  if (s == NATS_NOT_FOUND) return std::nullopt;  // absent or deleted
  if (s != NATS_OK) throw failure("get " + key + " from", s);
  Versioned v{value_of(entry), kvEntry_Revision(entry)};
  kvEntry_Destroy(entry);
  return v;
}

std::optional<std::uint64_t> NatsBucket::create(const std::string& key, std::string_view value) {
  uint64_t revision = 0;
  const natsStatus s = kvStore_Create(&revision, handles_->store, key.c_str(), value.data(),
                                      static_cast<int>(value.size()));
  if (s == NATS_OK) return revision;
  if (lost_race(s)) return std::nullopt;
  throw failure("create " + key + " in", s);
}

std::optional<std::uint64_t> NatsBucket::update(const std::string& key, std::string_view value,
                                                std::uint64_t last) {
  uint64_t revision = 0;
  const natsStatus s = kvStore_Update(&revision, handles_->store, key.c_str(), value.data(),
                                      static_cast<int>(value.size()), last);
  if (s == NATS_OK) return revision;
  if (lost_race(s)) return std::nullopt;
  throw failure("update " + key + " in", s);
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
