// `llorch demo`: one request, narrated end to end, until the engine and worker exist. The events
// go to the operator's log on stdout and, through the request's channel, to the "user's screen"
// (stderr), exactly as a worker will do it.
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "cli/commands.hpp"
#include "narration/correlation.hpp"
#include "narration/narrate.hpp"
#include "narration/setup.hpp"

namespace llorch::cli {
namespace {

namespace n = llorch::narration;

void render(const n::ChannelItem& item, n::Mode mode) {
  if (const auto* event = std::get_if<n::Event>(&item)) {
    fmt::print(stderr, "  [narration] {}\n", n::text_for(*event, mode));
  } else {
    const auto& message = std::get<n::StreamMessage>(item);
    fmt::print(stderr, "  [{}] {}\n", message.type, message.data);
  }
}

int run_demo(const std::string& mode_name, int tokens) {
  n::install_stdout_narrator({.component = "llorch-demo", .worker_id = "worker-demo-0"});
  const auto mode = n::parse_mode(mode_name).value_or(n::Mode::human);

  n::info(n::actor::worker, n::action::startup)
      .human("Starting the llorch narration demo")
      .cute("Waking up and stretching! 🌅")
      .emit();

  auto channel = std::make_shared<n::EventChannel>();
  const n::CorrelationId correlation = n::resolve_correlation_id(std::nullopt);
  const n::RequestContext request{correlation.value, "job-demo-1", channel};

  // The "inference" runs on its own thread and binds the request's context there explicitly.
  std::thread producer([request, tokens] {
    n::RequestScope scope(request);
    const auto started = std::chrono::steady_clock::now();
    n::info(n::actor::http_server, n::action::request_validated)
        .target(request.job_id)
        .human("Request validated")
        .cute("All checks passed! ✅")
        .emit();
    n::info(n::actor::inference_engine, n::action::inference_start)
        .target(request.job_id)
        .human("Starting inference ({} tokens)", tokens)
        .cute("Off we go! 🚀")
        .emit();
    for (int i = 1; i <= tokens; ++i) {
      request.channel->push({"token", fmt::format(R"({{"t":"tok{}","i":{}}})", i, i - 1)});
      if (i % 5 == 0) {
        n::info(n::actor::inference_engine, n::action::token_generate)
            .target(request.job_id)
            .human("Generated {} tokens", i)
            .cute("{} tokens and counting! 🎯", i)
            .tokens_out(i)
            .emit();
      }
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
    n::info(n::actor::inference_engine, n::action::inference_complete)
        .target(request.job_id)
        .human("Complete! {} tokens in {} ms", tokens, elapsed)
        .cute("All done! 🎉")
        .tokens_out(tokens)
        .duration_ms(elapsed)
        .emit();
    request.channel->close();
  });

  fmt::print(stderr, "[user's screen, mode {}]\n", n::to_string(mode));
  while (auto item = channel->pop()) render(*item, mode);
  producer.join();
  return 0;
}

}  // namespace

Command add_demo_command(CLI::App& app) {
  auto* command = app.add_subcommand("demo", "Narrate one simulated request end to end");
  auto mode = std::make_shared<std::string>("human");
  auto tokens = std::make_shared<int>(20);
  command->add_option("--mode", *mode, "Narration style on the user's screen")
      ->check(CLI::IsMember({"human", "cute", "story"}))
      ->capture_default_str();
  command->add_option("-n,--tokens", *tokens, "How many tokens to simulate")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  return {command, [mode, tokens] { return run_demo(*mode, *tokens); }};
}

}  // namespace llorch::cli
