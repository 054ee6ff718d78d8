#include "pool/pool_manager.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>

#include "narration/narrate.hpp"
#include "net/http_server.hpp"
#include "pool/narration_feed.hpp"
#include "pool/orchestrator_link.hpp"
#include "pool/pool_metrics.hpp"
#include "pool/pool_service.hpp"
#include "pool/supervisor.hpp"
#include "worker/worker_config.hpp"

namespace llorch::pool {

namespace n = llorch::narration;
namespace asio = boost::asio;

int run_pool_manager(PoolConfig config) {
  std::size_t declared = 0;
  for (const auto& spec : config.workers) declared += spec.count;
  n::info(n::actor::pool_manager, n::action::startup)
      .target(config.pool_id)
      .human("Starting pool manager {} (pid {}) with {} worker(s) declared", config.pool_id,
             ::getpid(), declared)
      .cute("Pool {} is opening its doors! 🏊", config.pool_id)
      .pid(::getpid())
      .emit();

  asio::io_context io;
  PoolMetrics metrics;
  auto feed = std::make_shared<NarrationFeed>();
  n::Narrator::current().add_sink(feed);

  std::unique_ptr<PoolService> service;
  std::unique_ptr<Supervisor> supervisor;
  net::HttpServer server(io, [&](net::HttpRequest r, std::shared_ptr<net::Exchange> e) {
    service->handle(std::move(r), std::move(e));
  });
  const std::string wanted = fmt::format("{}:{}", config.host, config.port);
  try {
    server.listen(config.host, config.port);
  } catch (const std::exception& e) {
    n::error(n::actor::http_server, n::action::server_bind_failed)
        .target(wanted)
        .human("Could not bind {}: {}; choose another --port or stop what holds it", wanted,
               e.what())
        .error_kind("BIND_FAILED")
        .emit();
    return worker::kExitBindFailed;
  }
  config.port = server.port();
  const std::string url = fmt::format("http://{}:{}", config.host, config.port);
  n::info(n::actor::http_server, n::action::server_bind)
      .target(url)
      .human("Pool manager API listening on {}", url)
      .address(fmt::format("{}:{}", config.host, config.port))
      .emit();

  supervisor = std::make_unique<Supervisor>(io, config, url + "/v1/workers/ready", metrics);
  service = std::make_unique<PoolService>(config, *supervisor, *feed, metrics);
  for (const auto& spec : config.workers) {
    for (std::size_t i = 0; i < spec.count; ++i) supervisor->spawn(spec);
  }

  std::unique_ptr<OrchestratorLink> link;
  if (!config.orchestrator_url.empty()) {
    const char* token = std::getenv("LLORCH_ORCHESTRATOR_TOKEN");
    link = std::make_unique<OrchestratorLink>(
        OrchestratorLinkConfig{config.orchestrator_url, config.pool_id, url,
                               token != nullptr ? token : "", config.heartbeat_interval},
        [&supervisor] {
          nlohmann::ordered_json list = nlohmann::ordered_json::array();
          for (const auto& w : supervisor->snapshot()) list.push_back(worker_json(w));
          return list;
        });
  }

  // Shutdown: refuse new workers, stop every worker (SIGTERM, then SIGKILL after the drain
  // timeout), deregister, end the narration feeds, let answers in flight finish, stop.
  asio::steady_timer flush_timer(io);
  std::chrono::steady_clock::time_point flush_deadline;
  std::function<void()> wait_for_answers = [&] {
    if (server.requests_in_flight() == 0 || std::chrono::steady_clock::now() >= flush_deadline) {
      io.stop();
      return;
    }
    flush_timer.expires_after(std::chrono::milliseconds(10));
    flush_timer.async_wait([&](const boost::system::error_code&) { wait_for_answers(); });
  };
  bool stopping = false;
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec || stopping) return;
    stopping = true;
    n::info(n::actor::pool_manager, n::action::server_shutdown)
        .target(config.pool_id)
        .human("Shutting down ({}): stopping {} worker process(es)",
               signal == SIGTERM ? "SIGTERM" : "SIGINT", supervisor->live_processes())
        .cute("Closing time! Everyone out of the pool 🛟")
        .emit();
    service->set_draining();
    supervisor->shutdown([&] {
      if (link) link->goodbye();
      n::info(n::actor::pool_manager, n::action::server_shutdown)
          .target(config.pool_id)
          .human("Every worker of pool {} has stopped", config.pool_id)
          .emit();
      feed->close_all();
      server.stop_accepting();
      flush_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      wait_for_answers();
    });
  });

  io.run();
  link.reset();
  supervisor.reset();
  n::info(n::actor::pool_manager, n::action::server_shutdown)
      .target(config.pool_id)
      .human("Pool manager {} stopped (exit code 0)", config.pool_id)
      .exit_code(0)
      .emit();
  return 0;
}

}  // namespace llorch::pool
