#include "cli/local_stack.hpp"

#include <filesystem>

#include "narration/secure_random.hpp"
#include "orchestrator/orchestrator.hpp"
#include "pool/pool_manager.hpp"

namespace llorch::cli {

struct LocalStack::Impl {
  LocalStackOptions options;
  boost::asio::io_context& io;
  std::unique_ptr<orchestrator::Orchestrator> orchestrator;
  std::unique_ptr<pool::PoolManager> pool;
  std::function<void(const std::string&)> on_failed;
};

LocalStack::LocalStack(boost::asio::io_context& io, LocalStackOptions options)
    : impl_(std::make_unique<Impl>(Impl{std::move(options), io, nullptr, nullptr, {}})) {}

LocalStack::~LocalStack() = default;

bool LocalStack::start() {
  const LocalStackOptions& o = impl_->options;
  orchestrator::OrchestratorConfig oc;
  oc.host = o.host;
  oc.port = o.port;
  oc.scheduler.queue_size = o.queue_size;
  oc.scheduler.queue_timeout = o.queue_timeout;
  oc.service = o.service;
  // The pool manager narrates in this process: its lines are in the feed already.
  oc.relay_pool_narration = false;
  // The pool manager in this process is the only one that may register, and only the
  // orchestrator may use its API: two tokens nobody else ever sees.
  const std::string pool_token = narration::secure_random_hex(32);
  const std::string pool_api_token = narration::secure_random_hex(32);
  oc.service.pool_token = pool_token;
  oc.scheduler.pool_api_token = pool_api_token;
  impl_->orchestrator = std::make_unique<orchestrator::Orchestrator>(impl_->io, std::move(oc));
  if (!impl_->orchestrator->start()) return false;

  pool::PoolConfig pc;
  pc.pool_id = "local";
  pc.host = "127.0.0.1";
  pc.port = 0;
  pc.orchestrator_url = impl_->orchestrator->url();
  pc.orchestrator_token = pool_token;
  pc.api_token = pool_api_token;
  // In one process the heartbeat is nearly free: frequent, so a worker is used as soon as ready.
  pc.heartbeat_interval = std::chrono::milliseconds(200);
  pc.worker_binary = o.worker_binary;
  if (pc.worker_binary.empty()) {
    std::error_code ec;
    pc.worker_binary = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  }
  pool::WorkerSpec spec;
  spec.model = std::filesystem::absolute(o.model).string();
  spec.threads = o.threads;
  spec.slots = o.slots;
  spec.context_length = o.context_length;
  spec.kv_size = o.kv_size;
  spec.kv_type = o.kv_type;
  spec.count = o.workers;
  pc.workers.push_back(spec);
  impl_->pool = std::make_unique<pool::PoolManager>(impl_->io, std::move(pc));
  if (impl_->on_failed) impl_->pool->on_all_failed(impl_->on_failed);
  return impl_->pool->start();
}

void LocalStack::on_failed(std::function<void(const std::string&)> tell) {
  impl_->on_failed = std::move(tell);
}

std::string LocalStack::url() const {
  return impl_->orchestrator ? impl_->orchestrator->url() : "";
}

void LocalStack::shutdown(std::function<void()> done) {
  Impl& s = *impl_;
  auto stop_pool = [&s, done = std::move(done)]() mutable {
    if (s.pool) return s.pool->shutdown(std::move(done));
    done();
  };
  if (s.orchestrator) return s.orchestrator->shutdown(std::move(stop_pool));
  stop_pool();
}

}  // namespace llorch::cli
