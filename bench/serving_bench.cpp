// A serving benchmark for any OpenAI-compatible endpoint (llorch serve, llama-server, vLLM, …):
// N concurrent streaming clients, each sending the same number of requests, and what they see —
// aggregate generated tokens per second, time to first token and inter-token latency (median and
// p99), each request's own tokens per second.
//   build/bin/serving_bench --url http://127.0.0.1:8080 --model stories260K --clients 4
//       [--requests 3] [--tokens 64] [--prefix-words 0] [--api-key KEY]
// --prefix-words N puts the same N-word prefix before every prompt (prefix reuse).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/sse_parser.hpp"
#include "bench_stats.hpp"
#include "net/http_client.hpp"

using llorch::bench::Clock;
using llorch::bench::median;
using llorch::bench::ms_since;
using nlohmann::json;
using namespace llorch;

namespace {

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string model = "stories260K";
  std::string api_key;
  std::size_t clients = 1;
  std::size_t requests = 3;  // per client
  std::size_t tokens = 64;
  std::size_t prefix_words = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--url") o.url = value;
    if (flag == "--model") o.model = value;
    if (flag == "--api-key") o.api_key = value;
    if (flag == "--clients") o.clients = std::stoul(value);
    if (flag == "--requests") o.requests = std::stoul(value);
    if (flag == "--tokens") o.tokens = std::stoul(value);
    if (flag == "--prefix-words") o.prefix_words = std::stoul(value);
  }
  return o;
}

struct RequestTiming {
  double first_token_ms = 0;
  double total_ms = 0;
  std::size_t tokens = 0;
  std::vector<double> gaps_ms;  // between consecutive tokens
  bool failed = false;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(at, v.size() - 1)];
}

RequestTiming one_request(const Options& o, const std::string& prompt) {
  RequestTiming t;
  net::ClientRequest r{.method = "POST",
                       .url = o.url + "/v1/completions",
                       .body = json{{"model", o.model},
                                    {"prompt", prompt},
                                    {"max_tokens", o.tokens},
                                    {"temperature", 0},
                                    {"stream", true},
                                    {"llorch", {{"ignore_eos", true}}}}
                                   .dump()};
  if (!o.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + o.api_key);
  r.timeout = std::chrono::seconds(300);
  api::SseParser parser;
  const auto sent = Clock::now();
  auto last = sent;
  try {
    net::http_call(r, [&](const net::ClientResponse& head, std::string_view chunk) {
      if (head.status != 200) {
        t.failed = true;
        return false;
      }
      for (const auto& e : parser.feed(chunk)) {
        const auto data = json::parse(e.data, nullptr, false);
        if (!data.is_object() || !data.contains("choices") || data["choices"].empty()) continue;
        const auto now = Clock::now();
        if (t.tokens++ == 0) {
          t.first_token_ms = ms_since(sent);
        } else {
          t.gaps_ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
        }
        last = now;
      }
      return true;
    });
  } catch (const std::exception&) {
    t.failed = true;
  }
  t.total_ms = ms_since(sent);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::string prefix;
  for (std::size_t i = 0; i < o.prefix_words; ++i) prefix += i % 7 == 6 ? "the end. " : "story ";
  std::mutex mutex;
  std::vector<RequestTiming> timings;
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (std::size_t c = 0; c < o.clients; ++c) {
    clients.emplace_back([&, c] {
      for (std::size_t i = 0; i < o.requests; ++i) {
        const auto t =
            one_request(o, prefix + fmt::format("Once upon a time, child {} of {}", c, i));
        std::lock_guard lock(mutex);
        timings.push_back(t);
      }
    });
  }
  for (auto& t : clients) t.join();
  const double wall_s = ms_since(start) / 1000.0;

  std::size_t tokens = 0, failed = 0;
  std::vector<double> ttft, gaps, per_request;
  for (const auto& t : timings) {
    if (t.failed) {
      ++failed;
      continue;
    }
    tokens += t.tokens;
    ttft.push_back(t.first_token_ms);
    gaps.insert(gaps.end(), t.gaps_ms.begin(), t.gaps_ms.end());
    if (t.total_ms > t.first_token_ms && t.tokens > 1)
      per_request.push_back(static_cast<double>(t.tokens - 1) * 1000.0 /
                            (t.total_ms - t.first_token_ms));
  }
  fmt::print(
      "| clients | requests | aggregate tok/s | TTFT median / p99 ms | inter-token median / p99 "
      "ms | per-request tok/s median |\n|---|---|---|---|---|---|\n");
  fmt::print("| {} | {}{} | {:.1f} | {:.1f} / {:.1f} | {:.2f} / {:.2f} | {:.1f} |\n", o.clients,
             timings.size(), failed > 0 ? fmt::format(" ({} failed)", failed) : "",
             static_cast<double>(tokens) / wall_s, median(ttft), percentile(ttft, 0.99),
             median(gaps), percentile(gaps, 0.99), median(per_request));
  return failed > 0 ? 1 : 0;
}
