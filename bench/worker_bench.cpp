// What HTTP, SSE and narration cost: stories260K generation through a real worker's /execute
// versus the same generation in process (what `llorch generate` runs), and the time to first
// token seen by the client. Medians over repetitions.
//   build/bin/worker_bench [--model PATH] [--tokens N] [--reps N]
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <boost/process.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/sse_parser.hpp"
#include "bench_stats.hpp"
#include "engine/generator.hpp"
#include "narration/capture_sink.hpp"
#include "narration/json_line.hpp"
#include "narration/narrator.hpp"
#include "net/http_client.hpp"

namespace bp = boost::process;
using llorch::bench::Clock;
using llorch::bench::median;
using llorch::bench::ms_since;
using namespace llorch;

int main(int argc, char** argv) {
  const auto [model, tokens, reps] = llorch::bench::parse_flags(argc, argv, 256);

  // In process, as `llorch generate` runs it (narration to a capture sink, not a terminal).
  std::vector<double> local_rate, local_total;
  {
    narration::Narrator quiet;
    quiet.add_sink(std::make_shared<narration::CaptureSink>());
    narration::ScopedNarrator bind(quiet);
    engine::Generator generator(engine::load_model(model), 1);
    engine::GenerationRequest request;
    request.prompt = "Once upon a time";
    request.max_new_tokens = tokens;
    request.ignore_eos = true;
    request.sampling.seed = 42;
    for (int r = 0; r < reps; ++r) {
      const auto result = generator.generate(request);
      local_rate.push_back(static_cast<double>(result.tokens.size()) /
                           (result.generate_ms / 1000.0));
      local_total.push_back(static_cast<double>(result.tokens.size()) /
                            ((result.prompt_ms + result.generate_ms) / 1000.0));
    }
  }

  // Through a worker process on 127.0.0.1 (its stdout narration read and discarded by a pipe).
  bp::ipstream out;
  bp::child worker(LLORCH_BINARY,
                   bp::args({"worker", "--model", model, "--port", "0", "--threads", "1"}),
                   bp::std_out > out, bp::std_err > bp::null);
  std::string url;
  for (std::string line; url.empty() && std::getline(out, line);) {
    const auto parsed = narration::parse_line(line);
    if (const auto* e = std::get_if<narration::Event>(&parsed); e && e->action == "server_bind")
      url = "http://" + *e->address;
  }
  std::thread drain([&] {
    for (std::string line; std::getline(out, line);) {
    }
  });
  std::vector<double> remote_rate, ttft, server_rate;
  const std::string body = nlohmann::json{
      {"prompt", "Once upon a time"},
      {"max_tokens", tokens},
      {"ignore_eos", true},
      {"seed", 42}}.dump();
  for (int r = 0; r < reps; ++r) {
    api::SseParser parser;
    const auto sent = Clock::now();
    Clock::time_point first{};
    std::size_t seen = 0;
    double decode_ms = 0;
    const auto response = net::http_call({.method = "POST", .url = url + "/execute", .body = body},
                                         [&](const net::ClientResponse&, std::string_view chunk) {
                                           for (const auto& e : parser.feed(chunk)) {
                                             if (e.event == "token" && seen++ == 0)
                                               first = Clock::now();
                                             if (e.event == "end")
                                               decode_ms =
                                                   nlohmann::json::parse(e.data)["decode_time_ms"];
                                           }
                                           return true;
                                         });
    if (response.status != 200 || seen < 2) {
      fmt::print(stderr, "worker_bench: /execute answered {} with {} tokens: {}\n", response.status,
                 seen, response.body);
      return 1;
    }
    ttft.push_back(std::chrono::duration<double, std::milli>(first - sent).count());
    remote_rate.push_back(static_cast<double>(seen) / (ms_since(sent) / 1000.0));
    server_rate.push_back(static_cast<double>(seen) / (decode_ms / 1000.0));
  }
  ::kill(worker.id(), SIGTERM);
  worker.wait();
  drain.join();

  const double local = median(local_rate), inside = median(server_rate);
  const double local_e2e = median(local_total), remote_e2e = median(remote_rate);
  fmt::print("stories260K, {} new tokens, {} repetitions, 1 thread (medians)\n", tokens, reps);
  fmt::print("  decode rate, in process (llorch generate):        {:8.0f} tok/s\n", local);
  fmt::print("  decode rate, inside the worker (end event):       {:8.0f} tok/s  ({:+.1f} %)\n",
             inside, (inside / local - 1) * 100);
  fmt::print("  whole request, in process (prompt + decode):      {:8.0f} tok/s\n", local_e2e);
  fmt::print("  whole request, HTTP client (send to last frame):  {:8.0f} tok/s  ({:+.1f} %)\n",
             remote_e2e, (remote_e2e / local_e2e - 1) * 100);
  fmt::print("  time to first token, HTTP client:                 {:8.2f} ms\n", median(ttft));
  return 0;
}
