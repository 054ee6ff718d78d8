#include "narration/narrator.hpp"

#include <unistd.h>

#include <mutex>

#include "llorch/version.hpp"
#include "narration/context.hpp"
#include "narration/json_sink.hpp"
#include "narration/redaction.hpp"
#include "narration/text_safety.hpp"
#include "narration/timestamp.hpp"
#include "narration/vocabulary.hpp"

namespace llorch::narration {
namespace {

thread_local Narrator* tl_override = nullptr;
std::atomic<Narrator*> g_process{nullptr};

// Until main() installs one, events go as JSON lines to stdout at info.
Narrator& fallback_narrator() {
  static Narrator* narrator = [] {
    auto* n = new Narrator();  // never destroyed: threads may narrate during static destruction
    n->add_sink(std::make_shared<JsonLineSink>(STDOUT_FILENO));
    return n;
  }();
  return *narrator;
}

void make_safe(std::string& text) {
  redact(text);
  sanitize(text);
}

}  // namespace

Narrator::Narrator(Level min_level, Identity identity)
    : min_level_(min_level),
      identity_(std::move(identity)),
      emitted_by_(identity_.component + "@" + kVersion) {
  for (std::string* text : {&identity_.worker_id, &identity_.pool_id, &emitted_by_})
    sanitize(*text);
}

void Narrator::add_sink(std::shared_ptr<Sink> sink) {
  sinks_.push_back(std::move(sink));
}

void Narrator::prepare(Event& event) const {
  // What the caller wrote is redacted and sanitized …
  for (std::string* text : {&event.human, &event.cute, &event.story, &event.target})
    make_safe(*text);
  for (std::string* text : {&event.actor, &event.action, &event.correlation_id, &event.job_id,
                            &event.worker_id, &event.pool_id, &event.emitted_by, &event.ts}) {
    sanitize(*text);  // no-op for the empty fields filled in below
  }
#define LLORCH_MAKE_SAFE(name) \
  if (event.name) make_safe(*event.name);
  LLORCH_NARRATION_TEXT_FIELDS(LLORCH_MAKE_SAFE)
#undef LLORCH_MAKE_SAFE

  // … while what is filled in here is safe by construction: the timestamp, the identity
  // (sanitized when the Narrator was made) and the request's ids (sanitized by RequestScope).
  if (event.ts.empty()) event.ts = now_timestamp();
  if (event.emitted_by.empty()) event.emitted_by = emitted_by_;
  if (const RequestContext* context = RequestScope::current()) {
    if (event.correlation_id.empty()) event.correlation_id = context->correlation_id;
    if (event.job_id.empty()) event.job_id = context->job_id;
    if (event.target.empty()) event.target = context->job_id;  // a request's events act on its job
  }
  if (event.worker_id.empty()) event.worker_id = identity_.worker_id;
  if (event.pool_id.empty()) event.pool_id = identity_.pool_id;
}

void Narrator::emit(Event event) {
  const RequestContext* context = RequestScope::current();
  const bool to_stream = context != nullptr && context->channel != nullptr;
  const bool to_log = enabled(event.level) || always_shown(event.action);
  if (!to_log && !to_stream) return;
  prepare(event);
  if (to_log) {
    for (const auto& sink : sinks_) {
      try {
        sink->write(event);
      } catch (...) {
        sink_failures_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  if (to_stream) context->channel->push_narration(std::move(event));
}

Narrator& Narrator::current() noexcept {
  if (tl_override != nullptr) return *tl_override;
  if (Narrator* process = g_process.load(std::memory_order_acquire)) return *process;
  return fallback_narrator();
}

void Narrator::install(std::shared_ptr<Narrator> narrator) {
  static std::mutex mutex;
  static std::vector<std::shared_ptr<Narrator>> keep_alive;
  std::lock_guard lock(mutex);
  g_process.store(narrator.get(), std::memory_order_release);
  keep_alive.push_back(std::move(narrator));
}

ScopedNarrator::ScopedNarrator(Narrator& narrator) noexcept : previous_(tl_override) {
  tl_override = &narrator;
}

ScopedNarrator::~ScopedNarrator() {
  tl_override = previous_;
}

}  // namespace llorch::narration
