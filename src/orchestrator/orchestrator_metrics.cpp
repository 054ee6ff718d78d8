#include "orchestrator/orchestrator_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace llorch::orchestrator {

namespace {

prometheus::Histogram* histogram(prometheus::Registry& registry, const char* name, const char* help,
                                 prometheus::Histogram::BucketBoundaries b) {
  return &prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, b);
}

}  // namespace

OrchestratorMetrics::OrchestratorMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  queue_length_ = &prometheus::BuildGauge()
                       .Name("llorch_orchestrator_queue_length")
                       .Help("Tasks waiting for a worker slot")
                       .Register(*registry_)
                       .Add({});
  queue_wait_ = histogram(*registry_, "llorch_orchestrator_queue_wait_seconds",
                          "Time from admission to dispatch",
                          {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60});
  first_token_ = histogram(*registry_, "llorch_orchestrator_time_to_first_token_seconds",
                           "Time from admission to the first token relayed",
                           {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
  token_latency_ = histogram(*registry_, "llorch_orchestrator_token_latency_seconds",
                             "Time between consecutive tokens relayed",
                             {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1});
  relay_lag_ = histogram(*registry_, "llorch_orchestrator_relay_lag_seconds",
                         "Time from a frame's arrival from the worker to its hand-over to a client",
                         {0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5});
  requests_ = &prometheus::BuildCounter()
                   .Name("llorch_orchestrator_requests_total")
                   .Help("Requests by outcome")
                   .Register(*registry_);
  // Every outcome is listed from the start (at 0), so rates work before the first of each.
  for (const char* outcome : {"completed", "cancelled", "failed", "rejected", "invalid"})
    requests_->Add({{"outcome", outcome}});
}

void OrchestratorMetrics::set_queue_length(std::size_t waiting) {
  queue_length_->Set(static_cast<double>(waiting));
}
void OrchestratorMetrics::observe_queue_wait(double seconds) {
  queue_wait_->Observe(seconds);
}
void OrchestratorMetrics::observe_time_to_first_token(double seconds) {
  first_token_->Observe(seconds);
}
void OrchestratorMetrics::observe_token_latency(double seconds) {
  token_latency_->Observe(seconds);
}
void OrchestratorMetrics::observe_relay_lag(double seconds) {
  relay_lag_->Observe(seconds);
}
void OrchestratorMetrics::count_request(const std::string& outcome) {
  requests_->Add({{"outcome", outcome}}).Increment();
}

std::string OrchestratorMetrics::text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace llorch::orchestrator
