// The real worker, started as a process and spoken to over HTTP on 127.0.0.1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <future>
#include <set>

#include "llorch_process.hpp"
#include "net/http_server.hpp"

namespace llorch::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string body_of(json j) {
  return j.dump();
}

json health(const std::string& url) {
  return json::parse(net::http_call({.method = "GET", .url = url + "/health"}).body);
}

// Waits until the worker reports `busy` slots, returning how long that took.
std::chrono::milliseconds wait_slots_busy(const std::string& url, int busy,
                                          std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (health(url)["slots_busy"] == busy) break;
    std::this_thread::sleep_for(2ms);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

void expect_well_formed_stream(const StreamResult& r) {
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.front().event, "started");
  int terminals = 0;
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_EQ(r.events[i].id, std::to_string(i)) << "ids must be continuous";
    EXPECT_EQ(r.data[i]["type"], r.events[i].event) << "data.type must name the event";
    if (r.events[i].event == "end" || r.events[i].event == "error") ++terminals;
  }
  EXPECT_EQ(terminals, 1);
  const std::string last = r.events.back().event;
  EXPECT_TRUE(last == "end" || last == "error") << last;
}

TEST(Worker, NarratesItsLifecycleInOrderOnStdout) {
  WorkerProcess worker({"--model", model_path(), "--worker-id", "worker-test-0"});
  ASSERT_FALSE(worker.url().empty());
  std::vector<std::string> actions;
  for (const auto& e : worker.events()) {
    actions.push_back(e.action);
    EXPECT_EQ(e.worker_id, "worker-test-0");
  }
  EXPECT_THAT(actions,
              ::testing::ElementsAre("startup", "device_init", "model_load", "model_load_complete",
                                     "kv_cache_init", "server_start", "server_bind"));
  EXPECT_EQ(health(worker.url())["status"], "ready");
}

TEST(Worker, StreamInterleavesNarrationWithTokensUnderOneCorrelationId) {
  WorkerProcess worker({"--model", model_path(), "--progress", "5"});
  const auto r =
      execute(worker.url(),
              body_of({{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}}),
              {{"X-Correlation-Id", "corr-stream-1"}});
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.headers.at("x-correlation-id"), "corr-stream-1");
  expect_well_formed_stream(r);

  std::size_t first_token = 0, last_token = 0, tokens = 0;
  std::string text;
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    if (r.events[i].event != "token") continue;
    if (tokens++ == 0) first_token = i;
    last_token = i;
    text += r.data[i]["t"].get<std::string>();
  }
  EXPECT_EQ(tokens, 40u);
  EXPECT_EQ(text.rfind(", there was a little girl named Lily.", 0), 0u) << text;
  bool narration_between = false;
  for (std::size_t i = first_token; i < last_token; ++i)
    narration_between |= r.events[i].event == "narration";
  EXPECT_TRUE(narration_between) << "narration must arrive between tokens, not only before them";

  std::set<std::string> streamed_actions;
  for (const auto& d : r.data) EXPECT_EQ(d["correlation_id"], "corr-stream-1") << d.dump();
  for (const auto& d : r.data) {
    if (d["type"] == "narration") {
      EXPECT_EQ(d["correlation_id"], "corr-stream-1");
      streamed_actions.insert(d["action"]);
    }
  }
  for (const char* a : {"request_validated", "tokenize", "cache_reset", "inference_start",
                        "token_generate", "inference_complete"}) {
    EXPECT_TRUE(streamed_actions.contains(a)) << a;
  }
  EXPECT_EQ(r.data.back()["stop_reason"], "MAX_TOKENS");
  EXPECT_EQ(r.data.back()["tokens_out"], 40);

  // The same events, with the same id, on stdout — all but the debug-level progress, which only
  // the stream carries (the operator's log is at info).
  ASSERT_TRUE(worker.wait_for_action("inference_complete", 2000ms));
  std::set<std::string> logged_actions;
  for (const auto& e : worker.events()) {
    if (e.correlation_id == "corr-stream-1") logged_actions.insert(e.action);
  }
  for (const auto& d : r.data) {
    if (d["type"] != "narration" || d["level"] == "debug") continue;
    EXPECT_TRUE(logged_actions.contains(d["action"].get<std::string>())) << d;
  }
}

TEST(Worker, NarrationModeChangesTheText) {
  WorkerProcess worker({"--model", model_path()});
  const auto r = execute(
      worker.url(), body_of({{"prompt", "Hi"}, {"max_tokens", 3}, {"narration_mode", "cute"}}));
  bool cute = false;
  for (const auto& d : r.data)
    cute |= d["type"] == "narration" && d["human"] == "All checks passed! ✅";
  EXPECT_TRUE(cute);
}

// Continuous batching: eight concurrent streams of different prompts and lengths, run in one
// engine loop's shared forward passes, each get the tokens that prompt gets alone, and only their
// own events.
TEST(Worker, ConcurrentStreamsGetWhatEachGetsAlone) {
  WorkerProcess worker({"--model", model_path(), "--slots", "8"});
  const std::vector<std::string> prompts{
      "Once upon a time",   "Lily",           "Tom and his dog", "The sun", "",
      "A little bird sang", "One day, a big", "She was happy"};
  const auto run = [&](std::size_t i) {
    return execute(worker.url(), body_of({{"job_id", "job-" + std::to_string(i)},
                                          {"prompt", prompts[i]},
                                          {"max_tokens", 20 + 9 * i},
                                          {"temperature", 0}}));
  };
  const auto tokens_of = [](const StreamResult& r) {
    std::vector<int> ids;
    for (const auto& d : r.data)
      if (d["type"] == "token") ids.push_back(d["id"].get<int>());
    return ids;
  };
  std::vector<std::vector<int>> alone;
  for (std::size_t i = 0; i < prompts.size(); ++i) alone.push_back(tokens_of(run(i)));
  std::vector<std::future<StreamResult>> clients;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    clients.push_back(std::async(std::launch::async, run, i));
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_EQ(clients[i].wait_for(60s), std::future_status::ready) << "client " << i << " hangs";
    const StreamResult r = clients[i].get();
    ASSERT_EQ(r.status, 200u) << r.body;
    expect_well_formed_stream(r);
    EXPECT_EQ(tokens_of(r), alone[i]) << "prompt \"" << prompts[i] << "\"";
    for (const auto& d : r.data) {
      if (d.contains("job_id")) {
        EXPECT_EQ(d["job_id"], "job-" + std::to_string(i));
      }
    }
  }
}

// Prefix reuse: a request that resends an earlier prompt and continues it (a chat turn) computes
// only the new part — narrated — and generates what a worker with an empty cache generates.
TEST(Worker, APromptThatContinuesAnEarlierOneReusesItsCache) {
  const auto ask = [](const std::string& url, const std::string& prompt) {
    return execute(url, body_of({{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}}));
  };
  const auto text_of = [](const StreamResult& r) {
    std::string text;
    for (const auto& d : r.data)
      if (d["type"] == "token") text += d["t"].get<std::string>();
    return text;
  };
  const std::string first = "Once upon a time, there was a little girl named Lily.";
  WorkerProcess worker({"--model", model_path(), "--slots", "1"});
  const auto a = ask(worker.url(), first);
  ASSERT_EQ(a.status, 200u);
  const std::string second = first + text_of(a) + " Then";
  const auto b = ask(worker.url(), second);
  ASSERT_EQ(b.status, 200u);
  std::int64_t reused = 0;
  for (const auto& d : b.data)
    if (d["type"] == "narration" && d["action"] == "prefix_reused") reused = d["tokens_in"];
  EXPECT_GT(reused, 20) << "the first prompt and its answer were not reused";

  WorkerProcess fresh({"--model", model_path(), "--slots", "1"});
  const auto c = ask(fresh.url(), second);
  EXPECT_EQ(text_of(b), text_of(c)) << "reuse changed the output";
  for (const auto& d : c.data) EXPECT_NE(d.value("action", ""), "prefix_reused");
  const auto metrics = net::http_call({.method = "GET", .url = worker.url() + "/metrics"}).body;
  EXPECT_NE(metrics.find("llorch_worker_prefix_cache_hit_tokens_total " + std::to_string(reused)),
            std::string::npos)
      << metrics;
}

// Isolation in one engine loop: sixteen streams at once, each with only its own job's events and
// correlation id, each ending with exactly one terminal event.
TEST(Worker, SixteenStreamsInOneLoopSeeOnlyTheirOwn) {
  WorkerProcess worker({"--model", model_path(), "--slots", "16"});
  std::vector<std::future<StreamResult>> clients;
  for (int i = 0; i < 16; ++i) {
    clients.push_back(std::async(std::launch::async, [&, i] {
      return execute(worker.url(),
                     body_of({{"job_id", "iso-" + std::to_string(i)},
                              {"prompt", i % 2 == 0 ? "Tim" : "Once upon a time"},
                              {"max_tokens", 40 + i}}),
                     {{"X-Correlation-Id", "corr-iso-" + std::to_string(i)}});
    }));
  }
  for (int i = 0; i < 16; ++i) {
    ASSERT_EQ(clients[i].wait_for(60s), std::future_status::ready) << "client " << i << " hangs";
    const StreamResult r = clients[i].get();
    ASSERT_EQ(r.status, 200u) << r.body;
    expect_well_formed_stream(r);
    std::size_t tokens = 0;
    for (const auto& d : r.data) {
      EXPECT_EQ(d["correlation_id"], "corr-iso-" + std::to_string(i)) << d;
      if (d.contains("job_id")) {
        EXPECT_EQ(d["job_id"], "iso-" + std::to_string(i)) << d;
      }
      tokens += d["type"] == "token" ? 1 : 0;
    }
    EXPECT_LE(tokens, static_cast<std::size_t>(40 + i));
  }
}

TEST(Worker, EightClientsOnTwoSlotsEachSeeOnlyTheirOwnJob) {
  WorkerProcess worker({"--model", model_path(), "--slots", "2"});
  std::vector<std::future<StreamResult>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::async(std::launch::async, [&, i] {
      return execute(worker.url(),
                     body_of({{"job_id", "job-" + std::to_string(i)},
                              {"prompt", "Tim"},
                              {"max_tokens", 1500},
                              {"ignore_eos", true}}),
                     {{"X-Correlation-Id", "corr-" + std::to_string(i)}});
    }));
  }
  int streamed = 0, busy = 0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(clients[i].wait_for(60s), std::future_status::ready) << "client " << i << " hangs";
    const StreamResult r = clients[i].get();
    if (r.status == 503) {
      ++busy;
      EXPECT_EQ(r.headers.at("retry-after"), "1");
      EXPECT_EQ(json::parse(r.body)["error"]["code"], "SLOTS_BUSY");
      continue;
    }
    ASSERT_EQ(r.status, 200u);
    ++streamed;
    expect_well_formed_stream(r);
    for (const auto& d : r.data) {
      if (d["type"] == "narration") {
        EXPECT_EQ(d["job_id"], "job-" + std::to_string(i));
        EXPECT_EQ(d["correlation_id"], "corr-" + std::to_string(i));
      }
      if (d["type"] == "started") {
        EXPECT_EQ(d["job_id"], "job-" + std::to_string(i));
      }
    }
  }
  EXPECT_GE(streamed, 2);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(streamed + busy, 8);
  EXPECT_EQ(wait_slots_busy(worker.url(), 0, 2000ms) < 2000ms, true);
}

TEST(Worker, ADisconnectingClientFreesItsSlot) {
  WorkerProcess worker({"--model", model_path(), "--slots", "1"});
  const auto r =
      execute(worker.url(),
              body_of({{"prompt", "Once"}, {"max_tokens", 2000}, {"ignore_eos", true}}), {}, 8);
  ASSERT_EQ(r.events.size(), 8u);
  const auto freed = wait_slots_busy(worker.url(), 0, 3000ms);
  RecordProperty("slot_freed_after_disconnect_ms", static_cast<int>(freed.count()));
  EXPECT_LT(freed, 3000ms);
  EXPECT_TRUE(worker.wait_for_action("client_disconnected", 2000ms));
  EXPECT_TRUE(worker.wait_for_action("inference_cancelled", 2000ms));
  // And the slot takes new work.
  EXPECT_EQ(execute(worker.url(), body_of({{"prompt", "Hi"}, {"max_tokens", 2}})).status, 200u);
}

TEST(Worker, CancelEndsTheStreamWithCancelled) {
  WorkerProcess worker({"--model", model_path(), "--slots", "1"});
  auto stream = std::async(std::launch::async, [&] {
    return execute(worker.url(), body_of({{"job_id", "job-cancel"},
                                          {"prompt", "Once"},
                                          {"max_tokens", 2000},
                                          {"ignore_eos", true}}));
  });
  ASSERT_LT(wait_slots_busy(worker.url(), 1, 5000ms), 5000ms);
  const auto cancel = net::http_call(
      {.method = "POST", .url = worker.url() + "/cancel", .body = R"({"job_id":"job-cancel"})"});
  EXPECT_EQ(cancel.status, 200u);
  const StreamResult r = stream.get();
  expect_well_formed_stream(r);
  EXPECT_EQ(r.data.back()["type"], "end");
  EXPECT_EQ(r.data.back()["stop_reason"], "CANCELLED");
  EXPECT_LT(r.data.back()["tokens_out"].get<int>(), 2000);
  EXPECT_LT(wait_slots_busy(worker.url(), 0, 2000ms), 2000ms);
  const auto again = net::http_call(
      {.method = "POST", .url = worker.url() + "/cancel", .body = R"({"job_id":"job-cancel"})"});
  EXPECT_EQ(again.status, 404u);
  record_received("error", json::parse(again.body));
}

TEST(Worker, BadRequestsGetClearErrors) {
  WorkerProcess worker({"--model", model_path()});
  const auto post = [&](const std::string& path, const std::string& body,
                        const std::string& type = "application/json") {
    net::ClientRequest request{
        .method = "POST", .url = worker.url() + path, .body = body, .content_type = type};
    return net::http_call(request);
  };
  const auto expect_error = [&](const net::ClientResponse& r, unsigned status,
                                const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    const json body = json::parse(r.body);
    record_received("error", body);
    EXPECT_EQ(body["error"]["code"], code) << r.body;
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(body["error"].contains("correlation_id"));
    EXPECT_TRUE(r.headers.contains("x-correlation-id"));
    return body;
  };
  const json invalid =
      expect_error(post("/execute", R"({"prompt":5,"max_tokens":0,"top_k":-3,"extra":true})"), 400,
                   "INVALID_REQUEST");
  std::set<std::string> fields;
  for (const auto& d : invalid["error"]["details"]) fields.insert(d["field"]);
  EXPECT_EQ(fields, (std::set<std::string>{"prompt", "max_tokens", "top_k", "extra"}));
  expect_error(post("/execute", "{oops"), 400, "MALFORMED_JSON");
  expect_error(post("/execute", R"({"prompt":"x"})", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE");
  expect_error(post("/execute", R"({"prompt":")" + std::string(2 * 1024 * 1024, 'a') + "\"}"), 413,
               "PAYLOAD_TOO_LARGE");
  expect_error(net::http_call({.method = "GET", .url = worker.url() + "/nowhere"}), 404,
               "NOT_FOUND");
  expect_error(net::http_call({.method = "GET", .url = worker.url() + "/execute"}), 405,
               "METHOD_NOT_ALLOWED");
  expect_error(post("/cancel", "{}"), 400, "INVALID_REQUEST");
  ASSERT_TRUE(worker.wait_for_action("validation_failed", 2000ms));
  // The worker is still fine.
  EXPECT_EQ(health(worker.url())["status"], "ready");
}

TEST(Worker, CorrelationIdsAreValidatedAndTraceparentIsHonoured) {
  WorkerProcess worker({"--model", model_path()});
  auto r = execute(worker.url(), body_of({{"prompt", "Hi"}, {"max_tokens", 2}}),
                   {{"X-Correlation-Id", "bad id!"}});
  const std::string generated = r.headers.at("x-correlation-id");
  EXPECT_NE(generated, "bad id!");
  EXPECT_EQ(generated.size(), 36u);
  r = execute(worker.url(), body_of({{"prompt", "Hi"}, {"max_tokens", 2}}),
              {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}});
  EXPECT_EQ(r.headers.at("x-correlation-id"), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(Worker, MetricsAreExposedInPrometheusText) {
  WorkerProcess worker({"--model", model_path()});
  (void)execute(worker.url(), body_of({{"prompt", "Hi"}, {"max_tokens", 7}}));
  const auto r = net::http_call({.method = "GET", .url = worker.url() + "/metrics"});
  EXPECT_EQ(r.status, 200u);
  EXPECT_THAT(r.body,
              ::testing::HasSubstr("llorch_worker_requests_total{outcome=\"completed\"} 1"));
  EXPECT_THAT(r.body, ::testing::HasSubstr("llorch_worker_tokens_generated_total 7"));
  EXPECT_THAT(r.body, ::testing::HasSubstr("llorch_worker_time_to_first_token_seconds_count 1"));
  EXPECT_THAT(r.body, ::testing::HasSubstr("llorch_worker_slots_busy 0"));
}

TEST(Worker, SigtermMidGenerationEndsTheStreamAndExitsZero) {
  WorkerProcess worker({"--model", model_path()});
  auto stream = std::async(std::launch::async, [&] {
    return execute(worker.url(),
                   body_of({{"prompt", "Once"}, {"max_tokens", 2000}, {"ignore_eos", true}}));
  });
  ASSERT_LT(wait_slots_busy(worker.url(), 1, 5000ms), 5000ms);
  worker.signal(SIGTERM);
  const StreamResult r = stream.get();
  expect_well_formed_stream(r);
  EXPECT_EQ(r.data.back()["stop_reason"], "CANCELLED");
  EXPECT_EQ(worker.wait_exit(10000ms), 0);
  EXPECT_TRUE(worker.wait_for_action("server_shutdown", 1000ms));
}

TEST(Worker, ShutdownEndpointDrainsAndExitsZero) {
  WorkerProcess worker({"--model", model_path()});
  EXPECT_EQ(net::http_call({.method = "POST", .url = worker.url() + "/shutdown"}).status, 202u);
  EXPECT_EQ(worker.wait_exit(10000ms), 0);
}

// A stand-in pool manager: records the ready callback it receives.
class CallbackReceiver {
 public:
  CallbackReceiver()
      : server_(io_, [this](net::HttpRequest request, std::shared_ptr<net::Exchange> exchange) {
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
          }
          received_.notify_all();
          exchange->respond({200, "application/json", "{}", {}});
        }) {
    server_.listen("127.0.0.1", 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CallbackReceiver() {
    io_.stop();
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/v1/workers/ready";
  }
  std::optional<net::HttpRequest> wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!received_.wait_for(lock, timeout, [&] { return !requests_.empty(); })) return std::nullopt;
    return requests_.front();
  }

 private:
  boost::asio::io_context io_;
  net::HttpServer server_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable received_;
  std::vector<net::HttpRequest> requests_;
};

TEST(Worker, ReadyCallbackArrivesAfterBindWithTheContractBody) {
  CallbackReceiver receiver;
  WorkerProcess worker({"--model", model_path(), "--worker-id", "worker-cb", "--slots", "2",
                        "--callback-url", receiver.url()},
                       {{"LLORCH_CALLBACK_TOKEN", "s3cret-token"}});
  const auto request = receiver.wait(10000ms);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->header("authorization"), "Bearer s3cret-token");
  const json body = json::parse(request->body);
  record_received("ready_callback", body);
  EXPECT_EQ(body["worker_id"], "worker-cb");
  EXPECT_EQ(body["url"], worker.url());
  EXPECT_EQ(body["slots"], 2);
  EXPECT_EQ(body["device"], "cpu");
  EXPECT_GT(body["memory_bytes"].get<long>(), 1000000);
  EXPECT_EQ(body["model_ref"], model_path());
  // It was sent after the port was bound: the worker answers at the URL it reported.
  EXPECT_EQ(health(body["url"])["status"], "ready");
  ASSERT_TRUE(worker.wait_for_action("callback_ready", 2000ms));
  for (const auto& line : worker.lines()) {
    if (const auto* raw = std::get_if<narration::RawLine>(&line))
      ADD_FAILURE() << "non-narration stdout: " << raw->text;
  }
  for (const auto& e : worker.events()) EXPECT_EQ(e.human.find("s3cret-token"), std::string::npos);
}

TEST(Worker, FailingCallbackMakesTheWorkerExitNonZero) {
  WorkerProcess worker({"--model", model_path(), "--callback-url", "http://127.0.0.1:1/ready",
                        "--callback-attempts", "3", "--callback-delay-ms", "20"});
  EXPECT_EQ(worker.wait_exit(10000ms), 5);
  int attempts = 0;
  for (const auto& e : worker.events())
    attempts += e.action == "callback_attempt" && e.level == narration::Level::info;
  EXPECT_EQ(attempts, 3);
  EXPECT_TRUE(worker.wait_for_action("callback_failed", 100ms));
}

TEST(Worker, UnavailableDeviceAndTakenPortExitNonZeroWithAReason) {
  WorkerProcess cuda({"--model", model_path(), "--device", "cuda:0"});
  EXPECT_EQ(cuda.wait_exit(10000ms), 2);
  bool said = false;
  for (const auto& e : cuda.events())
    said |= e.action == "device_init" && e.level == narration::Level::error;
  EXPECT_TRUE(said);

  WorkerProcess first({"--model", model_path()});
  const std::string port = first.url().substr(first.url().rfind(':') + 1);
  WorkerProcess second({"--model", model_path(), "--port", port});
  EXPECT_EQ(second.wait_exit(10000ms), 4);
  EXPECT_TRUE(second.wait_for_action("server_bind_failed", 100ms));
}

// The value of one unlabelled metric in a worker's /metrics text.
double metric(const std::string& url, const std::string& name) {
  const std::string text = net::http_call({.method = "GET", .url = url + "/metrics"}).body;
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
}

std::vector<int> token_ids(const StreamResult& r) {
  std::vector<int> ids;
  for (const auto& d : r.data)
    if (d["type"] == "token") ids.push_back(d["id"].get<int>());
  return ids;
}

// A KV cache too small for every sequence at once: sequences wait for blocks and the newest are
// preempted and recomputed — narrated in their own streams — and every stream still gets exactly
// the tokens its prompt gets alone.
TEST(Worker, ASmallKvCacheMakesSequencesWaitNotFail) {
  const std::vector<std::string> prompts{"Once upon a time", "Lily", "Tom and his dog", "The sun"};
  const auto run = [&](const std::string& url, std::size_t i) {
    return execute(url, body_of({{"prompt", prompts[i]},
                                 {"max_tokens", 40},
                                 {"ignore_eos", true},
                                 {"temperature", 0}}));
  };
  std::vector<std::vector<int>> alone;
  {
    WorkerProcess roomy({"--model", model_path(), "--slots", "1"});
    for (std::size_t i = 0; i < prompts.size(); ++i)
      alone.push_back(token_ids(run(roomy.url(), i)));
  }
  // Four blocks of 16 positions: room for one of these sequences at its longest.
  WorkerProcess worker({"--model", model_path(), "--slots", "4", "--kv-size", "64"});
  EXPECT_EQ(metric(worker.url(), "llorch_worker_kv_cache_blocks"), 4.0);
  std::vector<std::future<StreamResult>> clients;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    clients.push_back(std::async(std::launch::async, [&, i] { return run(worker.url(), i); }));
  std::set<std::string> narrated;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_EQ(clients[i].wait_for(60s), std::future_status::ready) << "client " << i << " hangs";
    const StreamResult r = clients[i].get();
    ASSERT_EQ(r.status, 200u) << r.body;
    expect_well_formed_stream(r);
    EXPECT_EQ(r.data.back()["stop_reason"], "MAX_TOKENS");
    EXPECT_EQ(token_ids(r), alone[i]) << "prompt \"" << prompts[i] << "\"";
    for (const auto& d : r.data)
      if (d["type"] == "narration") narrated.insert(d["action"].get<std::string>());
  }
  EXPECT_TRUE(narrated.contains("sequence_preempted"));
  EXPECT_TRUE(narrated.contains("sequence_resumed"));
  EXPECT_GT(metric(worker.url(), "llorch_worker_preemptions_total"), 0.0);
  EXPECT_EQ(metric(worker.url(), "llorch_worker_kv_cache_blocks_used"), 0.0);
  EXPECT_EQ(metric(worker.url(), "llorch_worker_sequences_waiting"), 0.0);
}

TEST(Worker, APromptLongerThanTheWholeKvCacheIsRefusedWithTheFix) {
  WorkerProcess worker({"--model", model_path(), "--kv-size", "16"});
  const auto r =
      execute(worker.url(), body_of({{"prompt",
                                      "Once upon a time, there was a little girl named Lily. "
                                      "She loved to play outside in the sun."},
                                     {"max_tokens", 4}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(r.events.back().event, "error");
  EXPECT_EQ(r.data.back()["code"], "PROMPT_TOO_LONG");
  EXPECT_NE(r.data.back()["message"].get<std::string>().find("--kv-size"), std::string::npos)
      << r.data.back();
}

TEST(Worker, ASequenceThatOutgrowsTheWholeKvCacheEndsWithContextFull) {
  WorkerProcess worker({"--model", model_path(), "--kv-size", "32"});
  const auto r = execute(worker.url(),
                         body_of({{"prompt", "Lily"}, {"max_tokens", 100}, {"ignore_eos", true}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  expect_well_formed_stream(r);
  EXPECT_EQ(r.data.back()["stop_reason"], "CONTEXT_FULL");
  // Every position holds a token (BOS, "Lily", then generated ones); the last token sampled
  // needs none, as at the end of the model's context.
  const std::size_t prompt_tokens = 2;
  EXPECT_EQ(token_ids(r).size(), 32 - prompt_tokens + 1);
}

// Cancelling gives the sequence's blocks back by the time its stream ends.
TEST(Worker, CancelGivesTheKvBlocksBack) {
  WorkerProcess worker({"--model", model_path(), "--slots", "2"});
  auto stream = std::async(std::launch::async, [&] {
    return execute(worker.url(), body_of({{"job_id", "job-blocks"},
                                          {"prompt", "Once"},
                                          {"max_tokens", 400},
                                          {"ignore_eos", true}}));
  });
  ASSERT_LT(wait_slots_busy(worker.url(), 1, 5000ms), 5000ms);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (metric(worker.url(), "llorch_worker_kv_cache_blocks_used") < 2.0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(metric(worker.url(), "llorch_worker_kv_cache_blocks_used"), 2.0);
  EXPECT_EQ(
      net::http_call(
          {.method = "POST", .url = worker.url() + "/cancel", .body = R"({"job_id":"job-blocks"})"})
          .status,
      200u);
  const StreamResult r = stream.get();
  EXPECT_EQ(r.data.back()["stop_reason"], "CANCELLED");
  EXPECT_EQ(metric(worker.url(), "llorch_worker_kv_cache_blocks_used"), 0.0);
}

// Per-token progress is for the user's stream; the operator's log (info) has the one-line summary
// of each request instead, so a busy server's log stays readable.
TEST(Worker, ProgressGoesToTheStreamNotTheOperatorsLog) {
  WorkerProcess worker({"--model", model_path(), "--progress", "5"});
  const auto r = execute(worker.url(),
                         body_of({{"prompt", "Once"}, {"max_tokens", 20}, {"ignore_eos", true}}));
  ASSERT_EQ(r.status, 200u);
  std::size_t streamed = 0;
  for (const auto& d : r.data) streamed += d.value("action", "") == "token_generate" ? 1 : 0;
  EXPECT_EQ(streamed, 4u) << "every fifth token, in the stream";
  ASSERT_TRUE(worker.wait_for_action("inference_complete", 2000ms));
  for (const auto& e : worker.events()) EXPECT_NE(e.action, "token_generate") << e.human;
}

// logprobs: every token event carries the token's log-probability and the N likeliest tokens,
// likeliest first; at temperature 0 the chosen token is the likeliest.
TEST(Worker, LogprobsComeWithEveryToken) {
  WorkerProcess worker({"--model", model_path()});
  const auto r = execute(worker.url(), body_of({{"prompt", "Once upon a time"},
                                                {"max_tokens", 12},
                                                {"temperature", 0},
                                                {"logprobs", 3}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  std::size_t tokens = 0;
  for (const auto& d : r.data) {
    if (d["type"] != "token") continue;
    ++tokens;
    const double logprob = d["logprob"];
    EXPECT_LE(logprob, 0.0);
    const auto& top = d["top_logprobs"];
    ASSERT_EQ(top.size(), 3u) << d;
    EXPECT_EQ(top[0]["id"], d["id"]) << "greedy picks the likeliest";
    EXPECT_NEAR(top[0]["logprob"].get<double>(), logprob, 1e-6);
    EXPECT_GE(top[0]["logprob"].get<double>(), top[1]["logprob"].get<double>());
    EXPECT_GE(top[1]["logprob"].get<double>(), top[2]["logprob"].get<double>());
    EXPECT_FALSE(d["bytes"].empty());
  }
  EXPECT_EQ(tokens, 12u);
  const auto bad = execute(worker.url(), body_of({{"prompt", "x"}, {"logprobs", 21}}));
  EXPECT_EQ(bad.status, 400u);
}

}  // namespace
}  // namespace llorch::testing
