// The call-site API. A narration reads like a sentence:
//
//   narration::info(actor::tokenizer, action::tokenize)
//       .target(job_id)
//       .human("Tokenized prompt ({} tokens)", n)
//       .cute("Chopped the prompt into {} tasty pieces! 🍰", n)
//       .tokens_in(n)
//       .emit();
//
// When the level is disabled the builder does nothing: one comparison, no string is built.
#pragma once

#include <fmt/format.h>

#include <string_view>

#include "narration/context.hpp"
#include "narration/narrator.hpp"
#include "narration/vocabulary.hpp"

namespace llorch::narration {

class Narration {
 public:
  Narration(Level level, std::string_view actor, std::string_view action)
      : narrator_(&Narrator::current()) {
    // A request's own stream takes its events at every level; the log only from its level on.
    if (!narrator_->enabled(level) && !always_shown(action) && !streaming()) {
      narrator_ = nullptr;
      return;
    }
    event_.level = level;
    event_.actor = actor;
    event_.action = action;
  }

  Narration& target(std::string_view value) { return set(event_.target, value); }

  // Whether the calling thread narrates into a request's stream (RequestScope with a channel).
  static bool streaming() noexcept {
    const RequestContext* context = RequestScope::current();
    return context != nullptr && context->channel != nullptr;
  }

  template <typename... Args>
  Narration& human(fmt::format_string<Args...> format, Args&&... args) {
    return format_into(event_.human, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  Narration& cute(fmt::format_string<Args...> format, Args&&... args) {
    return format_into(event_.cute, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  Narration& story(fmt::format_string<Args...> format, Args&&... args) {
    return format_into(event_.story, format, std::forward<Args>(args)...);
  }

  Narration& correlation_id(std::string_view value) { return set(event_.correlation_id, value); }
  Narration& job_id(std::string_view value) { return set(event_.job_id, value); }
  Narration& worker_id(std::string_view value) { return set(event_.worker_id, value); }
  Narration& pool_id(std::string_view value) { return set(event_.pool_id, value); }

#define LLORCH_SET_TEXT(name)                        \
  Narration& name(std::string_view value) {          \
    if (narrator_) event_.name = std::string(value); \
    return *this;                                    \
  }
#define LLORCH_SET_INTEGER(name)        \
  Narration& name(std::int64_t value) { \
    if (narrator_) event_.name = value; \
    return *this;                       \
  }
#define LLORCH_SET_REAL(name)           \
  Narration& name(double value) {       \
    if (narrator_) event_.name = value; \
    return *this;                       \
  }
  LLORCH_NARRATION_TEXT_FIELDS(LLORCH_SET_TEXT)
  LLORCH_NARRATION_INTEGER_FIELDS(LLORCH_SET_INTEGER)
  LLORCH_NARRATION_REAL_FIELDS(LLORCH_SET_REAL)
#undef LLORCH_SET_TEXT
#undef LLORCH_SET_INTEGER
#undef LLORCH_SET_REAL

  bool enabled() const noexcept {
    return narrator_ != nullptr;
  }

  void emit() {
    if (narrator_) narrator_->emit(std::move(event_));
    narrator_ = nullptr;  // a builder emits once
  }

 private:
  Narration& set(std::string& field, std::string_view value) {
    if (narrator_) field.assign(value);
    return *this;
  }
  template <typename... Args>
  Narration& format_into(std::string& field, fmt::format_string<Args...> format, Args&&... args) {
    if (narrator_) field = fmt::format(format, std::forward<Args>(args)...);
    return *this;
  }

  Narrator* narrator_;
  Event event_;
};

inline Narration trace(std::string_view actor, std::string_view action) {
  return {Level::trace, actor, action};
}
inline Narration debug(std::string_view actor, std::string_view action) {
  return {Level::debug, actor, action};
}
inline Narration info(std::string_view actor, std::string_view action) {
  return {Level::info, actor, action};
}
inline Narration warn(std::string_view actor, std::string_view action) {
  return {Level::warn, actor, action};
}
inline Narration error(std::string_view actor, std::string_view action) {
  return {Level::error, actor, action};
}
inline Narration fatal(std::string_view actor, std::string_view action) {
  return {Level::fatal, actor, action};
}

}  // namespace llorch::narration
