#include "pool/registrar.hpp"
#include "state/nats_bucket.hpp"

namespace llorch::pool {

namespace {

class NatsRegistrar : public Registrar {
 public:
  explicit NatsRegistrar(state::StateConfig config) : config_(std::move(config)) {}

  std::string where() const override { return "the registry on NATS at " + config_.url; }

  bool announce(const nlohmann::ordered_json& report, bool& first, std::string& problem) override {
    first = false;
    try {
      const bool connecting = !bucket_;
      bucket().put(report["pool_id"].get<std::string>(), report.dump());
      first = connecting;
      return true;
    } catch (const std::exception& e) {
      bucket_.reset();  // connect afresh next time
      problem = e.what();
      return false;
    }
  }

  bool withdraw(const std::string& pool_id, std::string& problem) override {
    try {
      bucket().remove(pool_id);
      return true;
    } catch (const std::exception& e) {
      problem = e.what();
      return false;
    }
  }

 private:
  // Connects on first use, and again after a failure.
  state::NatsBucket& bucket() {
    if (!bucket_) bucket_ = state::open_pool_registry(config_);
    return *bucket_;
  }

  state::StateConfig config_;
  std::unique_ptr<state::NatsBucket> bucket_;
};

}  // namespace

std::unique_ptr<Registrar> nats_registrar(state::StateConfig config) {
  return std::make_unique<NatsRegistrar>(std::move(config));
}

}  // namespace llorch::pool
