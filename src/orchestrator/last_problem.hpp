// What a retrying loop last said went wrong (the pool registry's reader, the shared tasks'
// dispatcher, upkeep and index): a failure is narrated when it differs from the last one, not at
// every retry, and a success makes the next failure news again.
#pragma once

#include <string>
#include <string_view>

namespace llorch::orchestrator {

class LastProblem {
 public:
  // True when `what` differs from the last problem: narrate it. It is the last one from then on.
  bool news(std::string_view what) {
    if (what == said_) return false;
    said_ = what;
    return true;
  }
  void clear() noexcept { said_.clear(); }

 private:
  std::string said_;
};

}  // namespace llorch::orchestrator
