// `llorch run`: the user's screen. Sends one task to an orchestrator (or to a stack it starts for
// the request with --model) and shows its narration and output as they happen.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <functional>
#include <thread>

#include "api/json_input.hpp"
#include "api/sse_parser.hpp"
#include "cli/commands.hpp"
#include "cli/local_stack.hpp"
#include "cli/run_screen.hpp"
#include "narration/setup.hpp"
#include "narration/terminal.hpp"
#include "narration/text_safety.hpp"
#include "net/http_client.hpp"

namespace llorch::cli {

namespace {

struct RunOptions {
  std::string server;
  std::string model;
  std::string mode = "human";
  bool quiet = false;
  bool json = false;
  std::size_t max_tokens = 64;
  std::optional<double> temperature;
  std::optional<std::uint64_t> seed;
  std::string prompt;
};

net::Headers auth_headers() {
  net::Headers h;
  if (const char* token = std::getenv("LLORCH_API_TOKEN"); token != nullptr && *token != '\0')
    h.emplace_back("Authorization", std::string("Bearer ") + token);
  return h;
}

std::string describe_refusal(const net::ClientResponse& r) {
  const auto body = api::parse_untrusted(r.body);
  const auto& error = api::object_or_empty(body, "error");
  if (error.empty()) return fmt::format("HTTP {}", r.status);
  std::string text = api::string_or(error, "message");
  if (const auto d = error.find("details"); d != error.end() && d->is_array()) {
    for (const auto& detail : *d) text += "; " + api::string_or(detail, "message");
  }
  narration::sanitize(text);  // the server's words, on the user's terminal
  return fmt::format("HTTP {}: {}", r.status, text);
}

// Streams one task to the screen. Returns the exit code: 0 done, 1 failed, 128 + the signal when
// interrupted (130 Ctrl-C, 143 SIGTERM), as shells report a signal's end.
// `on_created` gets the task's URL as soon as the orchestrator has answered, before the stream
// is read, so that a Ctrl-C from then on cancels the task on the server.
int run_task(const std::string& server, const RunOptions& o, RunScreen& screen,
             const std::atomic<int>& interrupted,
             const std::function<void(const std::string&)>& on_created) {
  nlohmann::json body{
      {"prompt", o.prompt}, {"max_tokens", o.max_tokens}, {"narration_mode", o.mode}};
  if (o.temperature) body["temperature"] = *o.temperature;
  if (o.seed) body["seed"] = *o.seed;
  net::ClientResponse created;
  try {
    net::ClientRequest request{.method = "POST", .url = server + "/v2/tasks", .body = body.dump()};
    request.headers = auth_headers();
    created = net::http_call(request);
  } catch (const std::exception& e) {
    screen.problem(fmt::format(
        "cannot reach the orchestrator at {}: {}. Start one with `llorch serve --model PATH`, "
        "or run this with --model PATH",
        server, e.what()));
    return 1;
  }
  if (created.status != 202) {
    screen.problem("the orchestrator refused the request: " + describe_refusal(created));
    return 1;
  }
  const auto answer = api::parse_untrusted(created.body);
  const std::string events = api::string_or(answer, "events_url");
  on_created(server + "/v2/tasks/" + api::string_or(answer, "job_id"));
  api::SseParser parser;
  std::string terminal;
  try {
    net::ClientRequest request{.method = "GET", .url = server + events};
    request.headers = auth_headers();
    request.timeout = std::chrono::seconds(300);
    net::http_call(request, [&](const net::ClientResponse& head, std::string_view chunk) {
      if (head.status != 200) return false;
      for (const auto& e : parser.feed(chunk)) {
        const auto data = api::parse_untrusted(e.data);
        if (!data.is_object()) continue;
        screen.event(e.event, data, e.data);
        if (e.event == "end" || e.event == "error") terminal = e.event;
      }
      return terminal.empty();
    });
  } catch (const std::exception& e) {
    screen.problem(fmt::format("the stream from {} broke: {}", server, e.what()));
    return 1;
  }
  if (terminal.empty()) {
    screen.problem("the stream ended without a terminal event");
    return 1;
  }
  if (const int signal = interrupted.load(); signal != 0) return 128 + signal;
  return terminal == "end" ? 0 : 1;
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "run", "One request with its narration beside the output: the user's screen");
  auto o = std::make_shared<RunOptions>();
  auto* server = command->add_option(
      "--server", o->server,
      "Orchestrator to send it to (default $LLORCH_SERVER or http://127.0.0.1:8080)");
  command->add_option("-m,--model", o->model, "Start a stack for this model, just for this request")
      ->check(CLI::ExistingFile)
      ->excludes(server);
  command->add_option("--mode", o->mode, "Narration style")
      ->check(CLI::IsMember({"human", "cute", "story"}))
      ->capture_default_str();
  command->add_flag("-q,--quiet", o->quiet, "Output only (no narration; errors still shown)");
  command->add_flag("--json", o->json, "Every event of the stream as a JSON line on stdout");
  command->add_option("-n,--max-tokens", o->max_tokens, "Tokens to generate at most")
      ->check(CLI::Range(1, 131072))
      ->capture_default_str();
  command->add_option("--temperature", o->temperature, "0 is greedy")->check(CLI::Range(0.0, 2.0));
  command->add_option("--seed", o->seed, "Sampling seed (repeatable output)");
  command->add_option("prompt", o->prompt, "The prompt")->required();
  return {command, [o] {
            // Signals are taken by one thread (sigwait) so that Ctrl-C cancels the task on the
            // server instead of killing the client mid-stream.
            sigset_t signals;
            sigemptyset(&signals);
            sigaddset(&signals, SIGINT);
            sigaddset(&signals, SIGTERM);
            pthread_sigmask(SIG_BLOCK, &signals, nullptr);

            narration::install_filtered_narrator_on(STDERR_FILENO, {.component = "llorch-run"},
                                                    narration::Level::info, narration::Level::warn);
            const ScreenKind kind = o->json ? ScreenKind::json
                                    : narration::is_capable_terminal(STDOUT_FILENO)
                                        ? ScreenKind::terminal
                                        : ScreenKind::piped;
            auto screen = make_run_screen(kind, o->quiet, o->prompt);

            boost::asio::io_context io;
            std::unique_ptr<LocalStack> stack;
            std::thread io_thread;
            std::string url = o->server;
            if (!o->model.empty()) {
              stack = std::make_unique<LocalStack>(
                  io, LocalStackOptions{.model = o->model, .port = 0, .queue_size = 4});
              if (!stack->start()) {
                screen->problem("could not start the local stack (see the narration above)");
                screen->finish();
                return 1;
              }
              url = stack->url();
              io_thread = std::thread([&io] { io.run(); });
            } else if (url.empty()) {
              const char* env = std::getenv("LLORCH_SERVER");
              url = env != nullptr && *env != '\0' ? env : "http://127.0.0.1:8080";
            }

            // Ctrl-C (SIGINT) or SIGTERM cancels the task on the server: at once when it exists,
            // or as soon as it does (a signal before the orchestrator answered).
            std::atomic<int> interrupted{0};  // the signal that asked to stop
            std::atomic<bool> finished{false};
            std::string task_url;
            std::mutex task_mutex;
            const auto cancel_task = [](const std::string& target) {
              try {
                net::ClientRequest cancel{.method = "DELETE", .url = target};
                cancel.headers = auth_headers();
                net::http_call(cancel);
              } catch (const std::exception&) {
              }
            };
            std::thread signal_thread([&] {
              const timespec tick{0, 100'000'000};
              while (!finished.load()) {
                const int signal = ::sigtimedwait(&signals, nullptr, &tick);
                if (signal <= 0) continue;
                std::string target;
                {
                  std::lock_guard lock(task_mutex);
                  interrupted = signal;
                  target = task_url;
                }
                if (!target.empty()) cancel_task(target);
              }
            });
            const auto on_created = [&](const std::string& created) {
              bool cancel_now = false;
              {
                std::lock_guard lock(task_mutex);
                task_url = created;
                cancel_now = interrupted.load();
              }
              if (cancel_now) cancel_task(created);
            };
            const int code = run_task(url, *o, *screen, interrupted, on_created);
            screen->finish();
            finished = true;
            signal_thread.join();
            if (stack) {
              boost::asio::post(io, [&] { stack->shutdown([&io] { io.stop(); }); });
              io_thread.join();
            }
            return code;
          }};
}

}  // namespace llorch::cli
