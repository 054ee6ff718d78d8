#include "orchestrator/orchestrator.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <thread>

#include "api/http_common.hpp"
#include "narration/narrate.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net/narrated_listen.hpp"
#include "orchestrator/pool_feeds.hpp"
#include "orchestrator/registry_watch.hpp"
#include "orchestrator/shared_tasks.hpp"
#include "worker/worker_config.hpp"

namespace llorch::orchestrator {

namespace n = llorch::narration;
namespace asio = boost::asio;

struct Orchestrator::Impl {
  Impl(asio::io_context& context, OrchestratorConfig c)
      : io(context),
        config(std::move(c)),
        scheduler(config.scheduler, metrics),
        service(config.service, scheduler, metrics),
        server(io,
               [this](net::HttpRequest r, std::shared_ptr<net::Exchange> e) {
                 service.handle(std::move(r), std::move(e));
               }),
        expiry(io),
        feeds(service.feed(), config.scheduler.pool_api_token) {}

  ~Impl() {
    if (shared) {
      // Its writers serve the scheduler's tasks, and requests on the service's threads call it:
      // end those first.
      service.finish_state_calls();
      scheduler.shutdown(std::chrono::milliseconds(1000));
      shared->stop();
    }
    stop_polling();
    if (registry) registry->stop();
    feeds.stop();
    if (stopper.joinable()) stopper.join();
  }

  void expire_every_second() {
    expiry.expires_after(std::chrono::seconds(1));
    expiry.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      scheduler.expire_pools();
      scheduler.expire_queued();
      if (config.relay_pool_narration) feeds.follow(scheduler.pool_urls());
      expire_every_second();
    });
  }

  // Pools named with --pool do not register: they are asked for their workers every interval.
  void poll_pools() {
    std::map<std::string, bool> reachable;
    std::unique_lock lock(poll_mutex);
    while (!polling_stopped) {
      lock.unlock();
      for (const auto& pool_url : config.pool_urls) {
        std::string problem;
        try {
          net::ClientRequest request{.method = "GET", .url = pool_url + "/v1/workers"};
          request.timeout = std::chrono::milliseconds(2000);
          if (!config.scheduler.pool_api_token.empty())
            request.headers.emplace_back("Authorization",
                                         "Bearer " + config.scheduler.pool_api_token);
          const auto response = net::http_call(request);
          std::vector<api::FieldError> errors;
          auto report = parse_pool_report(response.body, false, errors);
          if (response.status == 200 && report) {
            report->url = pool_url;
            if (!reachable[pool_url]) {
              n::info(n::actor::orchestrator, n::action::pool_register)
                  .target(pool_url)
                  .human("Pool {} at {} answers with {} worker(s)", report->pool_id, pool_url,
                         report->workers.size())
                  .pool_id(report->pool_id)
                  .emit();
            }
            reachable[pool_url] = true;
            scheduler.update_pool(std::move(*report), false);
            continue;
          }
          problem = fmt::format("HTTP {}: {}", response.status,
                                errors.empty() ? "" : api::field_list(errors));
        } catch (const std::exception& e) {
          problem = e.what();
        }
        if (reachable.find(pool_url) == reachable.end() || reachable[pool_url]) {
          n::warn(n::actor::orchestrator, n::action::pool_register)
              .target(pool_url)
              .human("Cannot read the workers of the pool at {}: {}; retrying every {} ms",
                     pool_url, problem, config.poll_interval.count())
              .error_kind("POOL_UNREACHABLE")
              .emit();
        }
        reachable[pool_url] = false;
      }
      lock.lock();
      poll_wake.wait_for(lock, config.poll_interval, [this] { return polling_stopped; });
    }
  }

  void stop_polling() {
    {
      std::lock_guard lock(poll_mutex);
      polling_stopped = true;
    }
    poll_wake.notify_all();
    if (poller.joinable()) poller.join();
  }

  asio::io_context& io;
  OrchestratorConfig config;
  OrchestratorMetrics metrics;
  Scheduler scheduler;
  OrchestratorService service;
  net::HttpServer server;
  asio::steady_timer expiry;
  PoolFeeds feeds;
  std::unique_ptr<RegistryWatch> registry;  // with --state
  std::unique_ptr<SharedTasks> shared;      // with --state
  bool state_failed = false;
  std::string url;
  std::thread poller;
  std::mutex poll_mutex;
  std::condition_variable poll_wake;
  bool polling_stopped = false;
  std::thread stopper;
  bool stopping = false;
};

Orchestrator::Orchestrator(asio::io_context& io, OrchestratorConfig config)
    : impl_(std::make_unique<Impl>(io, std::move(config))) {}

Orchestrator::~Orchestrator() = default;

bool Orchestrator::start() {
  auto& c = impl_->config;
  // Shared tasks first: a request that comes in as soon as the port is bound goes there.
  if (c.state) {
    std::string replica = c.replica_id;
    if (replica.empty()) {
      char host[256] = {};
      ::gethostname(host, sizeof host - 1);
      replica = fmt::format("{}-{}", host, ::getpid());
    }
    try {
      impl_->shared =
          std::make_unique<SharedTasks>(SharedTasksConfig{*c.state, replica, c.scheduler.queue_size,
                                                          c.retention, c.scheduler.queue_timeout},
                                        impl_->scheduler, impl_->metrics);
    } catch (const std::exception& e) {
      n::error(n::actor::orchestrator, n::action::server_start)
          .target(c.state->url)
          .human("Cannot share tasks on NATS: {}", e.what())
          .error_kind("STATE_UNAVAILABLE")
          .emit();
      impl_->state_failed = true;
      return false;
    }
    impl_->service.set_shared(impl_->shared.get());
  }
  const auto url = net::listen_narrated(
      impl_->server, c.host, c.port,
      fmt::format(
          "Orchestrator API (queue of {}, {})", c.scheduler.queue_size,
          c.service.keys->enabled() ? "API keys required" : "no API keys: open to local callers"));
  if (!url) return false;
  impl_->url = *url;
  n::Narrator::current().add_sink(impl_->service.feed());
  n::info(n::actor::orchestrator, n::action::server_start)
      .target(*url + "/")
      .human("Chat page at {}/ · operator view at {}/ui/system", *url, *url)
      .cute("Come say hi in your browser: {}/ 💬", *url)
      .emit();
  impl_->expire_every_second();
  if (!c.pool_urls.empty()) impl_->poller = std::thread([this] { impl_->poll_pools(); });
  if (c.state) {
    impl_->registry = std::make_unique<RegistryWatch>(
        *c.state, impl_->scheduler, impl_->shared ? impl_->shared->link() : nullptr);
  }
  return true;
}

bool Orchestrator::state_failed() const {
  return impl_->state_failed;
}

std::string Orchestrator::url() const {
  return impl_->url;
}

void Orchestrator::shutdown(std::function<void()> done) {
  if (impl_->stopping) return;
  impl_->stopping = true;
  impl_->service.set_draining();
  impl_->stop_polling();
  if (impl_->registry) impl_->registry->stop();
  impl_->expiry.cancel();
  const auto load = impl_->scheduler.load();
  n::info(n::actor::orchestrator, n::action::server_shutdown)
      .target(impl_->url)
      .human("Shutting down: {} task(s) running, {} queued; ending each with a terminal event",
             load.running, load.queued)
      .cute("Wrapping up! Everyone gets a proper goodbye 👋")
      .emit();
  // Ending the tasks blocks (it waits for the workers' last events): off the io thread, which
  // must keep delivering those events to the clients meanwhile.
  impl_->stopper = std::thread([this, done = std::move(done)]() mutable {
    // Tasks that wait here for a worker go back to the other replicas rather than end.
    if (impl_->shared) impl_->shared->hand_back_queued();
    impl_->scheduler.shutdown(std::chrono::milliseconds(5000));
    if (impl_->shared) {
      impl_->service.finish_state_calls();
      impl_->shared->stop();
    }
    impl_->feeds.stop();
    asio::post(impl_->io, [this, done = std::move(done)]() mutable {
      impl_->service.feed()->close_all();
      impl_->server.stop_accepting();
      impl_->server.when_idle(std::chrono::steady_clock::now() + std::chrono::seconds(2),
                              std::move(done));
    });
  });
}

int run_orchestrator(OrchestratorConfig config) {
  n::info(n::actor::orchestrator, n::action::startup)
      .target(fmt::format("{}:{}", config.host, config.port))
      .human("Starting orchestrator (pid {}) with {} pool(s) named and a queue of {}", ::getpid(),
             config.pool_urls.size(), config.scheduler.queue_size)
      .cute("The conductor takes the stage! 🎼")
      .pid(::getpid())
      .emit();
  asio::io_context io;
  Orchestrator orchestrator(io, std::move(config));
  if (!orchestrator.start())
    return orchestrator.state_failed() ? kExitStateUnavailable : worker::kExitBindFailed;
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    n::info(n::actor::orchestrator, n::action::server_shutdown)
        .target(orchestrator.url())
        .human("Received {}", signal == SIGTERM ? "SIGTERM" : "SIGINT")
        .emit();
    orchestrator.shutdown([&io] { io.stop(); });
  });
  io.run();
  n::info(n::actor::orchestrator, n::action::server_shutdown)
      .target(orchestrator.url())
      .human("Orchestrator stopped (exit code 0)")
      .exit_code(0)
      .emit();
  return 0;
}

}  // namespace llorch::orchestrator
