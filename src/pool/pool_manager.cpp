#include "pool/pool_manager.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>

#include "api/narration_feed.hpp"
#include "narration/narrate.hpp"
#include "narration/secure_random.hpp"
#include "net/http_server.hpp"
#include "net/narrated_listen.hpp"
#include "pool/orchestrator_link.hpp"
#include "pool/pool_metrics.hpp"
#include "pool/pool_service.hpp"
#include "pool/supervisor.hpp"
#include "worker/worker_config.hpp"

namespace llorch::pool {

namespace n = llorch::narration;
namespace asio = boost::asio;

struct PoolManager::Impl {
  Impl(asio::io_context& context, PoolConfig c)
      : io(context),
        config(std::move(c)),
        feed(std::make_shared<api::NarrationFeed>()),
        server(io, [this](net::HttpRequest r, std::shared_ptr<net::Exchange> e) {
          service->handle(std::move(r), std::move(e));
        }) {}

  ~Impl() {
    if (supervisor) supervisor->set_on_change({});
    link.reset();
    supervisor.reset();
  }

  asio::io_context& io;
  PoolConfig config;
  PoolMetrics metrics;
  std::shared_ptr<api::NarrationFeed> feed;
  std::unique_ptr<PoolService> service;
  std::unique_ptr<Supervisor> supervisor;
  std::function<void(const std::string&)> on_all_failed;
  bool all_failed_told = false;
  net::HttpServer server;
  std::unique_ptr<OrchestratorLink> link;
  std::string url;
  bool stopping = false;
};

PoolManager::PoolManager(asio::io_context& io, PoolConfig config)
    : impl_(std::make_unique<Impl>(io, std::move(config))) {}

PoolManager::~PoolManager() = default;

bool PoolManager::start() {
  Impl& m = *impl_;
  PoolConfig& config = m.config;
  std::size_t declared = 0;
  for (const auto& spec : config.workers) declared += spec.count;
  n::info(n::actor::pool_manager, n::action::startup)
      .target(config.pool_id)
      .human("Starting pool manager {} (pid {}) with {} worker(s) declared", config.pool_id,
             ::getpid(), declared)
      .cute("Pool {} is opening its doors! 🏊", config.pool_id)
      .pid(::getpid())
      .emit();
  n::Narrator::current().add_sink(m.feed);

  if (config.api_token.empty()) {
    // No token given: one nobody knows, so that the API is closed rather than open to every
    // local process (which could then spawn workers and read other users' narration).
    config.api_token = n::secure_random_hex(32);
    n::warn(n::actor::pool_manager, n::action::access_denied)
        .target(config.pool_id)
        .human(
            "LLORCH_POOL_TOKEN is not set: the pool manager API answers /health only; set it "
            "to manage workers over HTTP")
        .emit();
  }
  const auto url = net::listen_narrated(m.server, config.host, config.port, "Pool manager API");
  if (!url) return false;
  config.port = m.server.port();
  m.url = *url;

  m.supervisor = std::make_unique<Supervisor>(m.io, config, m.url + "/v1/workers/ready", m.metrics);
  m.service = std::make_unique<PoolService>(config, *m.supervisor, *m.feed, m.metrics);
  for (const auto& spec : config.workers) {
    for (std::size_t i = 0; i < spec.count; ++i) m.supervisor->spawn(spec);
  }
  // Every change: the orchestrator hears of it at once, and a pool whose every worker has failed
  // says so to whoever asked (llorch serve exits rather than wait on nothing).
  m.supervisor->set_on_change([&m] {
    if (m.link) m.link->nudge();
    if (!m.on_all_failed || m.all_failed_told) return;
    const auto workers = m.supervisor->workers();
    std::string reasons;
    for (const auto& w : workers) {
      if (w.state != WorkerState::failed) return;
      reasons += (reasons.empty() ? "" : "; ") + w.id + ": " + w.last_error;
    }
    if (workers.empty()) return;
    m.all_failed_told = true;
    m.on_all_failed(reasons);
  });
  if (!config.orchestrator_url.empty() || config.state) {
    m.link = std::make_unique<OrchestratorLink>(
        OrchestratorLinkConfig{config.pool_id, m.url, config.heartbeat_interval},
        config.state ? nats_registrar(*config.state)
                     : http_registrar(config.orchestrator_url, config.orchestrator_token),
        [&m] {
          nlohmann::ordered_json list = nlohmann::ordered_json::array();
          for (const auto& w : m.supervisor->snapshot()) list.push_back(worker_json(w, true));
          return list;
        });
  }
  return true;
}

void PoolManager::on_all_failed(std::function<void(const std::string&)> tell) {
  impl_->on_all_failed = std::move(tell);
}

std::string PoolManager::url() const {
  return impl_->url;
}

std::size_t PoolManager::live_processes() const {
  return impl_->supervisor ? impl_->supervisor->live_processes() : 0;
}

void PoolManager::shutdown(std::function<void()> done) {
  Impl& m = *impl_;
  if (m.stopping || !m.supervisor) return done();
  m.stopping = true;
  m.service->set_draining();
  // Goodbye first: the orchestrator stops sending work to workers that are about to stop.
  if (m.link) m.link->goodbye();
  m.supervisor->shutdown([&m, done = std::move(done)]() mutable {
    n::info(n::actor::pool_manager, n::action::server_shutdown)
        .target(m.config.pool_id)
        .human("Every worker of pool {} has stopped", m.config.pool_id)
        .emit();
    m.feed->close_all();
    m.server.stop_accepting();
    m.server.when_idle(std::chrono::steady_clock::now() + std::chrono::seconds(2), std::move(done));
  });
}

int run_pool_manager(PoolConfig config) {
  asio::io_context io;
  const std::string pool_id = config.pool_id;
  PoolManager pool(io, std::move(config));
  if (!pool.start()) return worker::kExitBindFailed;

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    n::info(n::actor::pool_manager, n::action::server_shutdown)
        .target(pool_id)
        .human("Shutting down ({}): stopping {} worker process(es)",
               signal == SIGTERM ? "SIGTERM" : "SIGINT", pool.live_processes())
        .cute("Closing time! Everyone out of the pool 🛟")
        .emit();
    pool.shutdown([&io] { io.stop(); });
  });
  io.run();
  n::info(n::actor::pool_manager, n::action::server_shutdown)
      .target(pool_id)
      .human("Pool manager {} stopped (exit code 0)", pool_id)
      .exit_code(0)
      .emit();
  return 0;
}

}  // namespace llorch::pool
