// libFuzzer target: a task record as a replica reads it from the shared llorch_tasks bucket,
// where anything with NATS access could have written anything. Read it, the task it holds, how it
// ended and what GET /v2/tasks/{id} says of it. Invariants: nothing crashes; anything but a
// refusal (std::invalid_argument, for a request that does not parse) is a bug; a record that reads
// writes back to text that reads as the same record.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "orchestrator/task_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llorch::orchestrator;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto record = parse_record(text);
  if (!record) return 0;
  const auto again = parse_record(to_json(*record));
  if (!again || to_json(*again) != to_json(*record)) std::abort();
  try {
    (void)spec_of(*record);
  } catch (const std::invalid_argument&) {
    // Refused: the request in it does not parse.
  }
  (void)describe(*record).dump();
  // Its own request text as a terminal frame's data, end and error.
  note_terminal(*record, "end", record->request);
  note_terminal(*record, "error", record->request);
  if (!record->ended()) std::abort();
  return 0;
}
