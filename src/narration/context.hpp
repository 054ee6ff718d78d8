// The request context: who a piece of work is for, bound to the thread doing it.
#pragma once

#include <memory>
#include <string>

#include "narration/channel.hpp"

namespace llorch::narration {

// What identifies a request to narration. Copyable: handing a copy to another thread and binding
// it there with a RequestScope is how work for one request moves between threads.
struct RequestContext {
  std::string correlation_id;
  std::string job_id;
  std::shared_ptr<EventChannel> channel;  // the request's stream; may be null (log only)
};

// RAII: binds `context` to the current thread for the scope's lifetime. narrate() inside it fills
// the event's ids from the context and also pushes the event into the context's channel. Scopes
// nest; the destructor restores exactly what was bound before, so when the outermost scope ends
// nothing of the request remains on the thread. Not movable: a scope belongs to its thread.
class RequestScope {
 public:
  explicit RequestScope(RequestContext context);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

  const RequestContext& context() const noexcept { return context_; }

  // The innermost context bound on this thread, or nullptr outside every scope.
  static const RequestContext* current() noexcept;
  // A copy of current() (empty outside every scope), to carry to another thread.
  static RequestContext capture();

 private:
  RequestContext context_;
  const RequestContext* previous_;
};

// Wraps `work` so that, wherever it later runs, it runs inside the calling thread's current
// request context.
template <typename Work>
auto bind_to_current_request(Work work) {
  return [context = RequestScope::capture(), work = std::move(work)]() mutable {
    RequestScope scope(context);
    return work();
  };
}

}  // namespace llorch::narration
