// What the orchestrator costs a request: the same stories260K generation sent straight to the
// worker's /execute, through the orchestrator's task API (POST /v2/tasks, then its events) and
// through its OpenAI-compatible stream, on one `llorch serve`; and how long a client's disconnect
// takes to free the worker's slot. Medians over repetitions.
//   build/bin/stack_bench [--model PATH] [--tokens N] [--reps N]
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <boost/process.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/sse_parser.hpp"
#include "bench_stats.hpp"
#include "narration/json_line.hpp"
#include "net/http_client.hpp"

namespace bp = boost::process;
using llorch::bench::Clock;
using llorch::bench::median;
using llorch::bench::ms_since;
using nlohmann::json;
using namespace llorch;

namespace {

struct Timing {
  double first_token_ms = 0;
  double total_ms = 0;
  std::size_t tokens = 0;
};

// Reads an SSE response; counts token frames (`token` events, or OpenAI chunks with text).
Timing stream(net::ClientRequest request, Clock::time_point sent, bool openai,
              std::size_t close_after = 0) {
  Timing t;
  api::SseParser parser;
  request.timeout = std::chrono::seconds(60);
  net::http_call(request, [&](const net::ClientResponse&, std::string_view chunk) {
    for (const auto& e : parser.feed(chunk)) {
      const bool token = openai ? e.data.find("\"text\":\"") != std::string::npos &&
                                      e.data.find("\"text\":\"\"") == std::string::npos
                                : e.event == "token";
      if (!token) continue;
      if (t.tokens++ == 0) t.first_token_ms = ms_since(sent);
      if (close_after > 0 && t.tokens >= close_after) return false;
    }
    return true;
  });
  t.total_ms = ms_since(sent);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const auto [model, tokens, reps] = llorch::bench::parse_flags(argc, argv, 128);
  bp::ipstream out;
  bp::child serve(LLORCH_BINARY,
                  bp::args({"serve", "--model", model, "--port", "0", "--ctx", "8192"}),
                  bp::env["LLORCH_LOG_FORMAT"] = "json", bp::std_out > out, bp::std_err > bp::null);
  std::string url;
  for (std::string line; url.empty() && std::getline(out, line);) {
    const auto parsed = narration::parse_line(line);
    if (const auto* e = std::get_if<narration::Event>(&parsed);
        e && e->action == "server_bind" && e->human.rfind("Orchestrator", 0) == 0)
      url = "http://" + *e->address;
  }
  std::thread drain([&] {
    for (std::string line; std::getline(out, line);) {
    }
  });
  std::string worker;
  for (int i = 0; i < 600 && worker.empty(); ++i) {
    const auto pools =
        json::parse(net::http_call({.method = "GET", .url = url + "/v1/pools"}).body);
    for (const auto& p : pools["pools"])
      for (const auto& w : p["workers"])
        if (w["state"] == "ready" && w["url"].is_string()) worker = w["url"];
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (worker.empty()) {
    fmt::print(stderr, "stack_bench: no worker became ready\n");
    return 1;
  }

  const json body{
      {"prompt", "Once upon a time"}, {"max_tokens", tokens}, {"ignore_eos", true}, {"seed", 42}};
  std::vector<double> direct_first, direct_total, task_first, task_total, openai_first,
      openai_total, freed;
  for (int r = 0; r < reps; ++r) {
    auto sent = Clock::now();
    const Timing d =
        stream({.method = "POST", .url = worker + "/execute", .body = body.dump()}, sent, false);
    direct_first.push_back(d.first_token_ms);
    direct_total.push_back(d.total_ms);

    sent = Clock::now();
    const auto created =
        net::http_call({.method = "POST", .url = url + "/v2/tasks", .body = body.dump()});
    const std::string events = json::parse(created.body)["events_url"];
    const Timing t = stream({.method = "GET", .url = url + events}, sent, false);
    task_first.push_back(t.first_token_ms);
    task_total.push_back(t.total_ms);

    sent = Clock::now();
    // OpenAI has no ignore_eos: the story may end early, so the time is scaled to `tokens`.
    const json openai{{"model", "stories260K"},
                      {"prompt", "Once upon a time"},
                      {"max_tokens", tokens},
                      {"seed", 42},
                      {"stream", true}};
    const Timing o = stream(
        {.method = "POST", .url = url + "/v1/completions", .body = openai.dump()}, sent, true);
    openai_first.push_back(o.first_token_ms);
    openai_total.push_back(o.total_ms / static_cast<double>(std::max<std::size_t>(o.tokens, 1)) *
                           static_cast<double>(tokens));

    // A long task whose client hangs up after 5 tokens: until the worker's slot is free again.
    json long_task = body;
    long_task["max_tokens"] = 8000;
    const auto created_long =
        net::http_call({.method = "POST", .url = url + "/v2/tasks", .body = long_task.dump()});
    const std::string long_events = json::parse(created_long.body)["events_url"];
    stream({.method = "GET", .url = url + long_events}, Clock::now(), false, 5);
    const auto closed = Clock::now();
    for (;;) {
      const auto health =
          json::parse(net::http_call({.method = "GET", .url = worker + "/health"}).body);
      if (health["slots_busy"] == 0) break;
    }
    freed.push_back(ms_since(closed));
  }
  ::kill(serve.id(), SIGTERM);
  serve.wait();
  drain.join();

  fmt::print("stories260K, {} new tokens, {} repetitions, llorch serve with 1 worker (medians)\n",
             tokens, reps);
  fmt::print("                                     first token     whole request\n");
  fmt::print("  worker /execute, direct          {:9.2f} ms      {:9.2f} ms\n",
             median(direct_first), median(direct_total));
  fmt::print("  orchestrator /v2/tasks + events  {:9.2f} ms      {:9.2f} ms\n", median(task_first),
             median(task_total));
  fmt::print("  orchestrator /v1/completions     {:9.2f} ms      {:9.2f} ms (per {} tokens)\n",
             median(openai_first), median(openai_total), tokens);
  fmt::print("  client disconnect → worker slot free: {:.2f} ms (max {:.2f} ms)\n", median(freed),
             *std::max_element(freed.begin(), freed.end()));
  return 0;
}
