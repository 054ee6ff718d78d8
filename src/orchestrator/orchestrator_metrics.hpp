// The orchestrator's Prometheus metrics: the queue, the latency a user feels (wait, first token,
// per token), the relay's own lag, and requests by outcome. Thread-safe.
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

namespace llorch::orchestrator {

class OrchestratorMetrics {
 public:
  OrchestratorMetrics();

  void set_queue_length(std::size_t waiting);
  void observe_queue_wait(double seconds);
  void observe_time_to_first_token(double seconds);  // from admission
  void observe_token_latency(double seconds);        // between consecutive tokens
  void observe_relay_lag(double seconds);            // frame received → handed to the client
  // outcome: completed, cancelled, failed, rejected (queue full), invalid
  void count_request(const std::string& outcome);

  std::string text() const;  // Prometheus text exposition format 0.0.4

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* queue_length_;
  prometheus::Histogram* queue_wait_;
  prometheus::Histogram* first_token_;
  prometheus::Histogram* token_latency_;
  prometheus::Histogram* relay_lag_;
  prometheus::Family<prometheus::Counter>* requests_;
};

}  // namespace llorch::orchestrator
