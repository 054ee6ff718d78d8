#include "worker/worker_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace llorch::worker {

WorkerMetrics::WorkerMetrics(std::size_t slots_total)
    : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("llorch_worker_requests_total")
                   .Help("Requests to /execute by outcome")
                   .Register(*registry_);
  tokens_ = &prometheus::BuildCounter()
                 .Name("llorch_worker_tokens_generated_total")
                 .Help("Tokens generated, all requests")
                 .Register(*registry_)
                 .Add({});
  dropped_ = &prometheus::BuildCounter()
                  .Name("llorch_worker_narration_events_dropped_total")
                  .Help("Narration events dropped because a stream's reader fell behind")
                  .Register(*registry_)
                  .Add({});
  prefix_hit_ = &prometheus::BuildCounter()
                     .Name("llorch_worker_prefix_cache_hit_tokens_total")
                     .Help("Prompt tokens found in a KV cache instead of computed")
                     .Register(*registry_)
                     .Add({});
  prompt_tokens_ = &prometheus::BuildCounter()
                        .Name("llorch_worker_prompt_tokens_total")
                        .Help("Prompt tokens of every request, computed or found in a cache")
                        .Register(*registry_)
                        .Add({});
  sequences_running_ = &prometheus::BuildGauge()
                            .Name("llorch_worker_sequences_running")
                            .Help("Sequences in the engine loop's batch now")
                            .Register(*registry_)
                            .Add({});
  sequences_waiting_ = &prometheus::BuildGauge()
                            .Name("llorch_worker_sequences_waiting")
                            .Help("Sequences admitted and waiting for KV cache blocks")
                            .Register(*registry_)
                            .Add({});
  preemptions_ = &prometheus::BuildCounter()
                      .Name("llorch_worker_preemptions_total")
                      .Help("Sequences that gave their KV cache blocks up to be recomputed later")
                      .Register(*registry_)
                      .Add({});
  kv_blocks_used_ = &prometheus::BuildGauge()
                         .Name("llorch_worker_kv_cache_blocks_used")
                         .Help("KV cache blocks held by sequences")
                         .Register(*registry_)
                         .Add({});
  kv_blocks_total_ = &prometheus::BuildGauge()
                          .Name("llorch_worker_kv_cache_blocks")
                          .Help("KV cache blocks in the pool (16 positions each)")
                          .Register(*registry_)
                          .Add({});
  step_tokens_ = &prometheus::BuildHistogram()
                      .Name("llorch_worker_batch_tokens")
                      .Help("Tokens in each forward pass of the engine loop (all sequences)")
                      .Register(*registry_)
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64});
  slots_busy_ = &prometheus::BuildGauge()
                     .Name("llorch_worker_slots_busy")
                     .Help("Slots running a job now")
                     .Register(*registry_)
                     .Add({});
  prometheus::BuildGauge()
      .Name("llorch_worker_slots")
      .Help("Slots this worker runs")
      .Register(*registry_)
      .Add({})
      .Set(static_cast<double>(slots_total));
  first_token_ = &prometheus::BuildHistogram()
                      .Name("llorch_worker_time_to_first_token_seconds")
                      .Help("From request accepted to first generated token")
                      .Register(*registry_)
                      .Add({}, prometheus::Histogram::BucketBoundaries{
                                   0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  token_latency_ =
      &prometheus::BuildHistogram()
           .Name("llorch_worker_token_latency_seconds")
           .Help("Mean time per generated token, one observation per request")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.005, 0.01,
                                                            0.025, 0.05, 0.1, 0.25, 0.5, 1});
  // Every outcome is listed from the start (at 0), so rates work before the first of each.
  for (const char* outcome :
       {"completed", "cancelled", "failed", "invalid", "busy", "draining", "unauthorized"}) {
    requests_->Add({{"outcome", outcome}});
  }
}

void WorkerMetrics::set_sequences_waiting(std::size_t n) {
  sequences_waiting_->Set(static_cast<double>(n));
}

void WorkerMetrics::count_preemption() {
  preemptions_->Increment();
}

void WorkerMetrics::set_kv_blocks(std::size_t used, std::size_t total) {
  kv_blocks_used_->Set(static_cast<double>(used));
  kv_blocks_total_->Set(static_cast<double>(total));
}

void WorkerMetrics::count_prefix_hit(std::size_t tokens) {
  prefix_hit_->Increment(static_cast<double>(tokens));
}

void WorkerMetrics::set_sequences_running(std::size_t n) {
  sequences_running_->Set(static_cast<double>(n));
}

void WorkerMetrics::observe_step_tokens(std::size_t n) {
  step_tokens_->Observe(static_cast<double>(n));
}

void WorkerMetrics::count_prompt_tokens(std::size_t tokens) {
  prompt_tokens_->Increment(static_cast<double>(tokens));
}

void WorkerMetrics::count_request(const std::string& outcome) {
  requests_->Add({{"outcome", outcome}}).Increment();
}

void WorkerMetrics::count_tokens(std::size_t n) {
  tokens_->Increment(static_cast<double>(n));
}
void WorkerMetrics::observe_first_token(double seconds) {
  first_token_->Observe(seconds);
}
void WorkerMetrics::observe_token_latency(double seconds) {
  token_latency_->Observe(seconds);
}
void WorkerMetrics::count_dropped_narration(std::size_t n) {
  dropped_->Increment(static_cast<double>(n));
}
void WorkerMetrics::set_slots_busy(std::size_t n) {
  slots_busy_->Set(static_cast<double>(n));
}

std::string WorkerMetrics::text() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace llorch::worker
