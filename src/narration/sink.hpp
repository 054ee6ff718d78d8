// Where narration goes: the interface every output implements.
#pragma once

#include "narration/event.hpp"

namespace llorch::narration {

// A sink receives every event its Narrator lets through, already redacted, sanitized and
// complete (ts, ids, emitted_by). write() may be called from many threads at once; each
// implementation says how it stays safe. An exception thrown by write() is swallowed and
// counted by the Narrator: one failing sink never stops the others.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const Event& event) = 0;
};

}  // namespace llorch::narration
