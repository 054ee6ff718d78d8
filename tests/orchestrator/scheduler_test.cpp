// The scheduler against a real HTTP "worker" on 127.0.0.1 that refuses slowly: what a replica that
// stops gives back to the shared queue.
#include "orchestrator/scheduler.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_server.hpp"

namespace llorch::orchestrator {
namespace {

using namespace std::chrono_literals;

// Answers every /execute with 503 SLOTS_BUSY after `delay`: the answer to an attempt arrives
// while the replica is already stopping.
class SlowlyBusyWorker {
 public:
  explicit SlowlyBusyWorker(std::chrono::milliseconds delay)
      : server_([this, delay](net::HttpRequest, std::shared_ptr<net::Exchange> exchange) {
          ++asked_;
          std::this_thread::sleep_for(delay);
          exchange->respond({503,
                             "application/json",
                             R"({"error":{"code":"SLOTS_BUSY","message":"every slot is busy"}})",
                             {}});
        }) {}
  std::string url() const { return server_.url(); }
  int asked() const { return asked_.load(); }

 private:
  std::atomic<int> asked_{0};
  testing::TestServer server_;
};

std::shared_ptr<Task> task_named(const std::string& id, OrchestratorMetrics& metrics) {
  TaskSpec spec;
  spec.request.job_id = id;
  spec.request.prompt = "Once";
  return Task::create(id, "corr-" + id, "", std::move(spec), &metrics);
}

PoolReport pool_with(const std::string& worker_url) {
  WorkerEntry worker;
  worker.id = "w1";
  worker.state = "ready";
  worker.url = worker_url;
  worker.model = "/models/m.gguf";
  return {"pool", "http://127.0.0.1:1", {worker}};
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds patience) {
  for (const auto deadline = Clock::now() + patience; Clock::now() < deadline;
       std::this_thread::sleep_for(10ms))
    if (done()) return true;
  return done();
}

// A scheduler whose one task is being offered to a worker that answers after `delay`.
struct AttemptInFlight {
  explicit AttemptInFlight(std::chrono::milliseconds delay) : worker(delay) {
    scheduler.update_pool(pool_with(worker.url()), false);
    taken = scheduler.take(task);
    asked = taken && wait_until([&] { return worker.asked() == 1; }, 5s);
  }
  SlowlyBusyWorker worker;
  OrchestratorMetrics metrics;
  Scheduler scheduler{{}, metrics};
  const std::shared_ptr<Task> task = task_named("task-in-flight", metrics);
  bool taken = false;
  bool asked = false;
};

TEST(Scheduler, ATaskRefusedWhileTheReplicaStopsIsGivenBackNotCancelled) {
  AttemptInFlight attempt(400ms);
  ASSERT_TRUE(attempt.asked);
  auto& scheduler = attempt.scheduler;
  const auto& task = attempt.task;

  // The attempt is in flight: release waits for its answer, and the refused task comes back.
  const auto released = scheduler.release_unstarted(3s);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released.front(), task);
  EXPECT_FALSE(task->ended());
  EXPECT_EQ(scheduler.find(task->id()), nullptr) << "out of the scheduler";
  // Nothing is placed after the release: the worker is not asked again.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(attempt.worker.asked(), 1);
  EXPECT_FALSE(scheduler.has_free_slot());
  EXPECT_FALSE(scheduler.take(task_named("task-late", attempt.metrics)));
}

TEST(Scheduler, AReleaseThatOutwaitsItsPatienceLeavesTheAttemptToTheShutdown) {
  AttemptInFlight attempt(1500ms);
  ASSERT_TRUE(attempt.asked);
  auto& scheduler = attempt.scheduler;
  const auto& task = attempt.task;
  const auto started = Clock::now();
  EXPECT_TRUE(scheduler.release_unstarted(200ms).empty());
  EXPECT_LT(Clock::now() - started, 1000ms) << "bounded by the patience";
  // The shutdown then ends it: one terminal event, never a silent loss.
  scheduler.shutdown(5s);
  EXPECT_TRUE(task->ended());
}

}  // namespace
}  // namespace llorch::orchestrator
