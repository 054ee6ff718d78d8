// libFuzzer target: anything a worker (or whatever registered as one) can answer /execute with.
// The bytes are read as the relay reads them — a stream split into reads at fuzzed points, or an
// error body — into a task, then turned into what the user gets: the task's frames, the OpenAI
// answer built from them. Invariants: nothing crashes or throws; once the reader stops, the task
// has ended or the stream is named broken; every frame a user gets is a JSON object.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/json_input.hpp"
#include "orchestrator/openai_api.hpp"
#include "orchestrator/worker_events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llorch::orchestrator;
  if (size < 2) return 0;
  const std::size_t split = data[0] % (size - 1);
  const bool chat = (data[1] & 1) != 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 2, size - 2);

  (void)read_refusal(bytes);  // the same bytes as an error body

  auto task = Task::create("task-fuzz", "fuzz", "", TaskSpec{}, nullptr);
  WorkerStreamReader reader(*task);
  const std::string_view all(bytes);
  const bool more = reader.feed(all.substr(0, std::min(split, all.size()))) &&
                    reader.feed(all.substr(std::min(split, all.size())));
  if (!more && !reader.terminal()) std::abort();
  if (!reader.broken().empty()) reader.end_broken("worker-fuzz");
  if (reader.terminal() && !task->ended()) std::abort();

  std::vector<TaskFrame> frames;
  task->read(0, frames);
  for (const auto& f : frames) {
    if (!llorch::api::parse_untrusted(f.data).is_object()) std::abort();
  }
  OpenAiRequest request;
  request.chat = chat;
  request.model = "m";
  request.narration = true;
  (void)openai_response(*task, request, "fuzz");
  return 0;
}
