// The closed lists of actors and actions. Every emitter names one of these constants, so one grep
// finds every emitter and a test can hold the lists equal to the OpenAPI enums.
#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace llorch::narration {

namespace actor {
inline constexpr std::string_view cli = "cli";
inline constexpr std::string_view device_manager = "device-manager";
inline constexpr std::string_view http_server = "http-server";
inline constexpr std::string_view inference_engine = "inference-engine";
inline constexpr std::string_view model_loader = "model-loader";
inline constexpr std::string_view narration = "narration";
inline constexpr std::string_view orchestrator = "orchestrator";
inline constexpr std::string_view pool_manager = "pool-manager";
inline constexpr std::string_view tokenizer = "tokenizer";
inline constexpr std::string_view worker = "worker";
}  // namespace actor

namespace action {
inline constexpr std::string_view access_denied = "access_denied";
inline constexpr std::string_view batch_joined = "batch_joined";
inline constexpr std::string_view cache_reset = "cache_reset";
inline constexpr std::string_view callback_attempt = "callback_attempt";
inline constexpr std::string_view callback_failed = "callback_failed";
inline constexpr std::string_view callback_ready = "callback_ready";
inline constexpr std::string_view callback_rejected = "callback_rejected";
inline constexpr std::string_view cancel_request = "cancel_request";
inline constexpr std::string_view chat_template = "chat_template";
inline constexpr std::string_view client_disconnected = "client_disconnected";
inline constexpr std::string_view correlation_generated = "correlation_generated";
inline constexpr std::string_view crash_loop_detected = "crash_loop_detected";
inline constexpr std::string_view device_init = "device_init";
inline constexpr std::string_view error = "error";
inline constexpr std::string_view events_dropped = "events_dropped";
inline constexpr std::string_view execute_request = "execute_request";
inline constexpr std::string_view fatal_error = "fatal_error";
inline constexpr std::string_view health_check_failed = "health_check_failed";
inline constexpr std::string_view inference_cancelled = "inference_cancelled";
inline constexpr std::string_view inference_complete = "inference_complete";
inline constexpr std::string_view inference_failed = "inference_failed";
inline constexpr std::string_view inference_start = "inference_start";
inline constexpr std::string_view kv_cache_init = "kv_cache_init";
inline constexpr std::string_view log_config = "log_config";
inline constexpr std::string_view model_file_changed = "model_file_changed";
inline constexpr std::string_view model_load = "model_load";
inline constexpr std::string_view model_load_complete = "model_load_complete";
inline constexpr std::string_view model_load_failed = "model_load_failed";
inline constexpr std::string_view pool_deregister = "pool_deregister";
inline constexpr std::string_view pool_heartbeat = "pool_heartbeat";
inline constexpr std::string_view pool_register = "pool_register";
inline constexpr std::string_view prefix_reused = "prefix_reused";
inline constexpr std::string_view prompt_progress = "prompt_progress";
inline constexpr std::string_view ready_timeout = "ready_timeout";
inline constexpr std::string_view replica_lost = "replica_lost";
inline constexpr std::string_view request_validated = "request_validated";
inline constexpr std::string_view sequence_preempted = "sequence_preempted";
inline constexpr std::string_view sequence_resumed = "sequence_resumed";
inline constexpr std::string_view sequence_waiting = "sequence_waiting";
inline constexpr std::string_view server_bind = "server_bind";
inline constexpr std::string_view server_bind_failed = "server_bind_failed";
inline constexpr std::string_view server_overloaded = "server_overloaded";
inline constexpr std::string_view server_shutdown = "server_shutdown";
inline constexpr std::string_view server_start = "server_start";
inline constexpr std::string_view startup = "startup";
inline constexpr std::string_view task_admitted = "task_admitted";
inline constexpr std::string_view task_cancelled = "task_cancelled";
inline constexpr std::string_view task_claimed = "task_claimed";
inline constexpr std::string_view task_dispatched = "task_dispatched";
inline constexpr std::string_view task_finished = "task_finished";
inline constexpr std::string_view task_queued = "task_queued";
inline constexpr std::string_view task_rejected = "task_rejected";
inline constexpr std::string_view task_relaying = "task_relaying";
inline constexpr std::string_view token_generate = "token_generate";
inline constexpr std::string_view tokenize = "tokenize";
inline constexpr std::string_view validation_failed = "validation_failed";
inline constexpr std::string_view worker_crashed = "worker_crashed";
inline constexpr std::string_view worker_failed = "worker_failed";
inline constexpr std::string_view worker_lost = "worker_lost";
inline constexpr std::string_view worker_output = "worker_output";
inline constexpr std::string_view worker_restart = "worker_restart";
inline constexpr std::string_view worker_spawn = "worker_spawn";
inline constexpr std::string_view worker_state_change = "worker_state_change";
}  // namespace action

// Events every operator needs whatever LLORCH_LOG says: where a server listens (a warn-level log
// would otherwise hide the address to connect to).
constexpr bool always_shown(std::string_view a) noexcept {
  return a == action::server_bind;
}

inline constexpr std::array kActors{
    actor::cli,          actor::device_manager, actor::http_server,  actor::inference_engine,
    actor::model_loader, actor::narration,      actor::orchestrator, actor::pool_manager,
    actor::tokenizer,    actor::worker,
};

inline constexpr std::array kActions{
    action::access_denied,
    action::batch_joined,
    action::cache_reset,
    action::callback_attempt,
    action::callback_failed,
    action::callback_ready,
    action::callback_rejected,
    action::cancel_request,
    action::chat_template,
    action::client_disconnected,
    action::correlation_generated,
    action::crash_loop_detected,
    action::device_init,
    action::error,
    action::events_dropped,
    action::execute_request,
    action::fatal_error,
    action::health_check_failed,
    action::inference_cancelled,
    action::inference_complete,
    action::inference_failed,
    action::inference_start,
    action::kv_cache_init,
    action::log_config,
    action::model_file_changed,
    action::model_load,
    action::model_load_complete,
    action::model_load_failed,
    action::pool_deregister,
    action::pool_heartbeat,
    action::pool_register,
    action::prefix_reused,
    action::prompt_progress,
    action::ready_timeout,
    action::replica_lost,
    action::request_validated,
    action::sequence_preempted,
    action::sequence_resumed,
    action::sequence_waiting,
    action::server_bind,
    action::server_bind_failed,
    action::server_overloaded,
    action::server_shutdown,
    action::server_start,
    action::startup,
    action::task_admitted,
    action::task_cancelled,
    action::task_claimed,
    action::task_dispatched,
    action::task_finished,
    action::task_queued,
    action::task_rejected,
    action::task_relaying,
    action::token_generate,
    action::tokenize,
    action::validation_failed,
    action::worker_crashed,
    action::worker_failed,
    action::worker_lost,
    action::worker_output,
    action::worker_restart,
    action::worker_spawn,
    action::worker_state_change,
};

static_assert(std::is_sorted(kActors.begin(), kActors.end()), "keep actors sorted");
static_assert(std::is_sorted(kActions.begin(), kActions.end()), "keep actions sorted");

}  // namespace llorch::narration
