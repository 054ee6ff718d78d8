// The cost of one narrate() to the JSON stdout sink (writing to /dev/null), with and without an
// active request scope. Run: build/bin/narration_bench (see bench/README.md).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include "narration/json_sink.hpp"
#include "narration/narrate.hpp"

namespace n = llorch::narration;

namespace {

struct DevNull {
  int fd = ::open("/dev/null", O_WRONLY);
  ~DevNull() { ::close(fd); }
};

void narrate_one(int i) {
  n::info(n::actor::inference_engine, n::action::token_generate)
      .target("job-123")
      .human("Generated {} tokens", i)
      .cute("{} tokens and counting! 🎯", i)
      .tokens_out(i)
      .emit();
}

void BM_NarrateJsonNoScope(benchmark::State& state) {
  DevNull sink_fd;
  n::Narrator narrator(n::Level::info, {.component = "bench", .worker_id = "worker-0"});
  narrator.add_sink(std::make_shared<n::JsonLineSink>(sink_fd.fd));
  n::ScopedNarrator bind(narrator);
  int i = 0;
  for (auto _ : state) narrate_one(++i);
}
BENCHMARK(BM_NarrateJsonNoScope);

void BM_NarrateJsonInRequestScope(benchmark::State& state) {
  DevNull sink_fd;
  n::Narrator narrator(n::Level::info, {.component = "bench", .worker_id = "worker-0"});
  narrator.add_sink(std::make_shared<n::JsonLineSink>(sink_fd.fd));
  n::ScopedNarrator bind(narrator);
  auto channel = std::make_shared<n::EventChannel>(4096);
  n::RequestScope scope({"corr-bench", "job-123", channel});
  int i = 0;
  for (auto _ : state) {
    narrate_one(++i);
    // The stream's reader, drained in batches as an SSE writer would; counted in the time.
    if ((i & 1023) == 0) benchmark::DoNotOptimize(channel->drain());
  }
  state.counters["dropped"] = static_cast<double>(channel->dropped());
}
BENCHMARK(BM_NarrateJsonInRequestScope);

void BM_NarrateDisabledLevel(benchmark::State& state) {
  n::Narrator narrator(n::Level::info);
  n::ScopedNarrator bind(narrator);
  int i = 0;
  for (auto _ : state) {
    n::debug(n::actor::inference_engine, n::action::token_generate)
        .human("Generated {} tokens", ++i)
        .emit();
  }
}
BENCHMARK(BM_NarrateDisabledLevel);

void BM_NarrateWithSecretToRedact(benchmark::State& state) {
  DevNull sink_fd;
  n::Narrator narrator;
  narrator.add_sink(std::make_shared<n::JsonLineSink>(sink_fd.fd));
  n::ScopedNarrator bind(narrator);
  for (auto _ : state) {
    n::info(n::actor::worker, n::action::callback_attempt)
        .human("Calling back with Authorization: Bearer abcdef123456")
        .emit();
  }
}
BENCHMARK(BM_NarrateWithSecretToRedact);

}  // namespace

BENCHMARK_MAIN();
