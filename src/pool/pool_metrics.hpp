// The pool manager's Prometheus metrics. Thread-safe (prometheus-cpp's own guarantees).
#pragma once

#include <map>
#include <memory>
#include <string>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace llorch::pool {

class PoolMetrics {
 public:
  PoolMetrics();

  // Workers in each state now (every state is listed, at 0 when none).
  void set_worker_states(const std::map<std::string, std::size_t>& count_by_state);
  void count_crash();
  void count_restart();
  void count_crash_loop();
  // outcome: "accepted", "unauthorized", "invalid", "unexpected"
  void count_ready_callback(const std::string& outcome);
  // stream: "stdout", "stderr"; kind: "narration", "raw"
  void count_output_line(const std::string& stream, const std::string& kind);

  std::string text() const;  // Prometheus text exposition format 0.0.4

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* workers_;
  prometheus::Family<prometheus::Counter>* callbacks_;
  prometheus::Family<prometheus::Counter>* lines_;
  prometheus::Counter* crashes_;
  prometheus::Counter* restarts_;
  prometheus::Counter* crash_loops_;
};

}  // namespace llorch::pool
