// The worker's Prometheus metrics. Thread-safe (prometheus-cpp's own guarantees).
#pragma once

#include <memory>
#include <string>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace llorch::worker {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(std::size_t slots_total);

  // outcome: "completed", "cancelled", "failed", "invalid", "busy", "draining", "unauthorized"
  void count_request(const std::string& outcome);
  void count_tokens(std::size_t n);
  void observe_first_token(double seconds);
  void observe_token_latency(double seconds);
  void count_dropped_narration(std::size_t n);
  void set_slots_busy(std::size_t n);
  // Prompt tokens a request did not have to compute: its KV cache held them already.
  void count_prefix_hit(std::size_t tokens);
  void count_prompt_tokens(std::size_t tokens);
  // The engine loop: sequences running now, and the tokens of each step's forward pass.
  void set_sequences_running(std::size_t n);
  void observe_step_tokens(std::size_t n);
  // Sequences admitted but waiting for KV cache blocks (new ones, and preempted ones to resume).
  void set_sequences_waiting(std::size_t n);
  void count_preemption();
  // The paged KV cache: blocks held by sequences (cached-but-unheld ones count as free).
  void set_kv_blocks(std::size_t used, std::size_t total);

  std::string text() const;  // Prometheus text exposition format 0.0.4

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Counter* tokens_;
  prometheus::Counter* dropped_;
  prometheus::Counter* prefix_hit_;
  prometheus::Counter* prompt_tokens_;
  prometheus::Gauge* sequences_running_;
  prometheus::Gauge* sequences_waiting_;
  prometheus::Counter* preemptions_;
  prometheus::Gauge* kv_blocks_used_;
  prometheus::Gauge* kv_blocks_total_;
  prometheus::Histogram* step_tokens_;
  prometheus::Gauge* slots_busy_;
  prometheus::Histogram* first_token_;
  prometheus::Histogram* token_latency_;
};

}  // namespace llorch::worker
