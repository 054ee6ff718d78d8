#include "pool/pool_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "pool/worker_state.hpp"

namespace llorch::pool {

namespace {

prometheus::Counter* plain_counter(prometheus::Registry& registry, const char* name,
                                   const char* help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

PoolMetrics::PoolMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  workers_ = &prometheus::BuildGauge()
                  .Name("llorch_pool_workers")
                  .Help("Workers of this pool by state")
                  .Register(*registry_);
  callbacks_ = &prometheus::BuildCounter()
                    .Name("llorch_pool_ready_callbacks_total")
                    .Help("Ready callbacks received, by outcome")
                    .Register(*registry_);
  lines_ = &prometheus::BuildCounter()
                .Name("llorch_pool_worker_output_lines_total")
                .Help("Lines read from workers' stdout and stderr, narration or raw")
                .Register(*registry_);
  crashes_ = plain_counter(*registry_, "llorch_pool_worker_crashes_total",
                           "Workers that exited without being asked to");
  restarts_ = plain_counter(*registry_, "llorch_pool_worker_restarts_total",
                            "Workers started again after a crash");
  crash_loops_ = plain_counter(*registry_, "llorch_pool_crash_loops_total",
                               "Workers given up on because they crashed too often");
  // Every label value is listed from the start (at 0), so rates work before the first of each.
  for (const WorkerState state : kWorkerStates)
    workers_->Add({{"state", std::string(to_string(state))}});
  for (const char* outcome : {"accepted", "unauthorized", "invalid", "unexpected"})
    callbacks_->Add({{"outcome", outcome}});
  for (const char* stream : {"stdout", "stderr"})
    for (const char* kind : {"narration", "raw"}) lines_->Add({{"stream", stream}, {"kind", kind}});
}

void PoolMetrics::set_worker_states(const std::map<std::string, std::size_t>& count_by_state) {
  for (const WorkerState state : kWorkerStates) {
    const std::string name(to_string(state));
    const auto it = count_by_state.find(name);
    workers_->Add({{"state", name}}).Set(it == count_by_state.end() ? 0.0 : double(it->second));
  }
}

void PoolMetrics::count_crash() {
  crashes_->Increment();
}
void PoolMetrics::count_restart() {
  restarts_->Increment();
}
void PoolMetrics::count_crash_loop() {
  crash_loops_->Increment();
}
void PoolMetrics::count_ready_callback(const std::string& outcome) {
  callbacks_->Add({{"outcome", outcome}}).Increment();
}
void PoolMetrics::count_output_line(const std::string& stream, const std::string& kind) {
  lines_->Add({{"stream", stream}, {"kind", kind}}).Increment();
}

std::string PoolMetrics::text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace llorch::pool
