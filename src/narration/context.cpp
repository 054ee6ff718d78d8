#include "narration/context.hpp"

#include "narration/text_safety.hpp"

namespace llorch::narration {
namespace {
thread_local const RequestContext* tl_current = nullptr;
}  // namespace

RequestScope::RequestScope(RequestContext context)
    : context_(std::move(context)), previous_(tl_current) {
  // Once here rather than in every event that takes these ids.
  sanitize(context_.correlation_id);
  sanitize(context_.job_id);
  tl_current = &context_;
}

RequestScope::~RequestScope() {
  tl_current = previous_;
}

const RequestContext* RequestScope::current() noexcept {
  return tl_current;
}

RequestContext RequestScope::capture() {
  return tl_current != nullptr ? *tl_current : RequestContext{};
}

}  // namespace llorch::narration
