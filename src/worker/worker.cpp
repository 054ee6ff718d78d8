// `llorch worker`: lifecycle in the order the design note gives — startup, device, model, server
// start and bind, ready callback; then serve until SIGTERM/SIGINT or POST /shutdown, and drain.
#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/model_error.hpp"
#include "engine/model_file_guard.hpp"
#include "engine/narrated_load.hpp"
#include "narration/narrate.hpp"
#include "net/http_server.hpp"
#include "net/narrated_listen.hpp"
#include "worker/job_runner.hpp"
#include "worker/ready_callback.hpp"
#include "worker/worker_config.hpp"
#include "worker/worker_service.hpp"

namespace llorch::worker {

namespace n = llorch::narration;
namespace asio = boost::asio;

namespace {

bool init_device(const std::string& device) {
  if (device == "cpu") {
    n::info(n::actor::device_manager, n::action::device_init)
        .target("cpu")
        .human("Initialized CPU device ({} hardware threads)", std::thread::hardware_concurrency())
        .cute("CPU is warmed up and ready to crunch! 💪")
        .device("cpu")
        .emit();
    return true;
  }
  const bool cuda = device.rfind("cuda:", 0) == 0;
  n::error(n::actor::device_manager, n::action::device_init)
      .target(device)
      .human(
          "{} is not available in this build: llorch runs on the CPU only; start the worker with "
          "--device cpu",
          cuda ? "CUDA" : "Metal")
      .error_kind(cuda ? "CUDA_NOT_AVAILABLE" : "METAL_NOT_AVAILABLE")
      .device(device)
      .emit();
  return false;
}

}  // namespace

std::string_view describe_exit_code(int code) noexcept {
  switch (code) {
    case kExitClean:
      return "clean shutdown";
    case kExitDeviceUnavailable:
      return "device unavailable, or a command line it could not parse";
    case kExitModelLoadFailed:
      return "model load failed";
    case kExitBindFailed:
      return "could not bind its port";
    case kExitCallbackFailed:
      return "ready callback failed";
    case kExitModelFileChanged:
      return "its model file changed";
    default:
      return "";
  }
}

int run_worker(WorkerConfig config) {
  if (config.worker_id.empty()) config.worker_id = fmt::format("worker-{}", config.port);
  n::info(n::actor::worker, n::action::startup)
      .target(config.worker_id)
      .human("Starting llorch worker {} (pid {}) for {}", config.worker_id, ::getpid(),
             config.model_path)
      .cute("Hello! Worker {} is waking up 🌅", config.worker_id)
      .pid(::getpid())
      .model_ref(config.model_path)
      .emit();

  if (!init_device(config.device)) return kExitDeviceUnavailable;

  std::shared_ptr<engine::Model> model;
  try {
    engine::LoadOptions options;
    if (config.context_length > 0) options.context_length = config.context_length;
    model = engine::load_model_narrated(config.model_path, options);
  } catch (const engine::ModelError&) {
    return kExitModelLoadFailed;
  }

  WorkerMetrics metrics(config.slots);
  const engine::TensorType kv_type = config.kv_type == "q8_0"  ? engine::TensorType::q8_0
                                     : config.kv_type == "f32" ? engine::TensorType::f32
                                                               : engine::TensorType::f16;
  std::unique_ptr<EngineLoop> engine_loop;
  try {
    engine_loop =
        std::make_unique<EngineLoop>(model,
                                     EngineLoopOptions{.slots = config.slots,
                                                       .threads = config.threads,
                                                       .progress_every = config.progress_every,
                                                       .kv_type = kv_type,
                                                       .kv_tokens = config.kv_size},
                                     metrics);
  } catch (const std::exception& e) {
    n::error(n::actor::model_loader, n::action::model_load_failed)
        .target(config.model_path)
        .human("Cannot set up the KV cache: {}", e.what())
        .error_kind("KV_CACHE_UNSUPPORTED")
        .emit();
    return kExitModelLoadFailed;
  }
  EngineLoop& slots = *engine_loop;
  n::info(n::actor::inference_engine, n::action::kv_cache_init)
      .target("kv-cache")
      .human(
          "KV cache: {} positions in blocks of {} ({}, {:.1f} MiB), shared by up to {} "
          "sequences",
          slots.kv_tokens(), engine::KvBlockPool::kBlockTokens, config.kv_type,
          static_cast<double>(slots.kv_bytes()) / (1024.0 * 1024.0), config.slots)
      .emit();

  asio::io_context io;
  std::atomic<bool> stopping{false};
  int exit_code = 0;
  std::unique_ptr<WorkerService> service;
  std::unique_ptr<net::HttpServer> server;

  // Shutdown: stop accepting, refuse new jobs, cancel running ones (their streams end with a
  // CANCELLED terminal event), wait for the streams and answers to flush, then stop the loop.
  asio::steady_timer drain_timer(io);
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> drain_poll = [&] {
    const bool idle = slots.busy() == 0 && service->live_streams()->load() == 0 &&
                      server->requests_in_flight() == 0;
    if (idle || std::chrono::steady_clock::now() >= drain_deadline) {
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(10));
    drain_timer.async_wait([&](const boost::system::error_code&) { drain_poll(); });
  };
  const auto begin_shutdown = [&](const std::string& reason, int code) {
    asio::post(io, [&, reason, code] {
      if (stopping.exchange(true)) return;
      exit_code = code;
      n::info(n::actor::worker, n::action::server_shutdown)
          .target(config.worker_id)
          .human("Shutting down ({}): draining {} running job(s)", reason, slots.busy())
          .cute("Time to rest! Finishing up first 😴")
          .emit();
      service->set_draining();
      server->stop_accepting();
      slots.close();
      slots.cancel_all();
      drain_deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(config.drain_timeout_ms);
      drain_poll();
    });
  };

  service = std::make_unique<WorkerService>(config, model, slots, metrics, [&](std::string reason) {
    begin_shutdown(reason, kExitClean);
  });
  server = std::make_unique<net::HttpServer>(
      io, [&](net::HttpRequest r, std::shared_ptr<net::Exchange> e) {
        service->handle(std::move(r), std::move(e));
      });

  n::info(n::actor::http_server, n::action::server_start)
      .target(fmt::format("{}:{}", config.host, config.port))
      .human("Starting HTTP server on {}:{} with {} slot(s)", config.host, config.port,
             config.slots)
      .emit();
  const auto url = net::listen_narrated(*server, config.host, config.port, "HTTP server");
  if (!url) return kExitBindFailed;

  // The model file changing under the worker (see engine/model_file_guard.hpp) ends every stream
  // with MODEL_FILE_CHANGED and the worker with kExitModelFileChanged: its pool starts it anew.
  engine::ModelFileWatch watch(config.model_path);
  asio::steady_timer file_timer(io);
  std::function<void()> watch_file = [&] {
    if (engine::model_file_changed()) {
      n::error(n::actor::worker, n::action::model_file_changed)
          .target(config.model_path)
          .human("{}: {}; ending every stream and stopping so that the new file is loaded",
                 config.model_path, engine::model_file_change_reason())
          .model_ref(config.model_path)
          .error_kind("MODEL_FILE_CHANGED")
          .emit();
      begin_shutdown("the model file changed", kExitModelFileChanged);
      return;
    }
    file_timer.expires_after(std::chrono::milliseconds(100));
    file_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec && !stopping.load()) watch_file();
    });
  };
  watch_file();

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) begin_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT", kExitClean);
  });

  std::thread callback;
  if (!config.callback_url.empty()) {
    const char* token = std::getenv("LLORCH_CALLBACK_TOKEN");
    const nlohmann::ordered_json body{
        {"worker_id", config.worker_id},  {"url", *url},
        {"model_ref", config.model_path}, {"memory_bytes", model->weight_bytes()},
        {"device", config.device},        {"slots", config.slots}};
    const ReadyReport report{config.callback_url, token != nullptr ? token : "", body.dump(),
                             config.callback_attempts, config.callback_first_delay_ms};
    callback = std::thread([&, report] {
      if (!send_ready_callback(report, stopping))
        begin_shutdown("ready callback failed", kExitCallbackFailed);
    });
  }

  io.run();
  if (callback.joinable()) callback.join();
  n::info(n::actor::worker, n::action::server_shutdown)
      .target(config.worker_id)
      .human("Worker {} stopped (exit code {})", config.worker_id, exit_code)
      .exit_code(exit_code)
      .emit();
  return exit_code;
}

}  // namespace llorch::worker
