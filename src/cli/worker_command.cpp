// `llorch worker`: the flags, declared once, into a WorkerConfig.
#include "api/device_name.hpp"
#include "cli/commands.hpp"
#include "narration/setup.hpp"
#include "worker/worker_config.hpp"

namespace llorch::cli {

Command add_worker_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("worker", "Serve one model over HTTP with a narrated SSE stream");
  auto c = std::make_shared<worker::WorkerConfig>();
  command->add_option("-m,--model", c->model_path, "Model file (GGUF or llama2.c)")->required();
  command->add_option("--port", c->port, "Port to listen on (0: any free port)")->required();
  command->add_option("--host", c->host, "Address to bind")->capture_default_str();
  command->add_option("--worker-id", c->worker_id,
                      "Name in every narration line (default worker-<port>)");
  command->add_option("--callback-url", c->callback_url,
                      "Pool manager's ready endpoint (http://…)");
  command->add_option("--device", c->device, "cpu, cuda:N or metal:N")
      ->capture_default_str()
      ->check([](const std::string& d) -> std::string {
        if (api::is_device_name(d)) return {};
        return "--device must be cpu, cuda:N or metal:N";
      });
  command
      ->add_option("-t,--threads", c->threads, "Threads of the engine loop (shared by every slot)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  command->add_option("--slots", c->slots, "Sequences run at once (continuous batching)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  command
      ->add_option("--progress", c->progress_every, "Narrate \"Generated N tokens\" every N tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  command->add_option("--ctx", c->context_length, "Context length (default: the model's)");
  command
      ->add_option("--kv-type", c->kv_type,
                   "KV cache type: f16 (llama.cpp's default), q8_0 (about half of f16) or f32")
      ->capture_default_str()
      ->check(CLI::IsMember({"f16", "q8_0", "f32"}));
  command
      ->add_option("--kv-size", c->kv_size,
                   "KV cache positions shared by all sequences (default: slots × context)")
      ->check(CLI::Range(16, 1 << 24));
  command
      ->add_option("--callback-attempts", c->callback_attempts,
                   "Ready callback attempts before giving up")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  command
      ->add_option("--callback-delay-ms", c->callback_first_delay_ms,
                   "Wait after the first failed callback attempt (doubles each time)")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  return {command, [c] {
            // The pool manager gives each worker a secret of its own in the environment (never
            // on the command line, which every local user can read).
            if (const char* secret = std::getenv("LLORCH_WORKER_TOKEN")) c->secret = secret;
            narration::install_stdout_narrator(
                {.component = "llorch-worker",
                 .worker_id =
                     c->worker_id.empty() ? "worker-" + std::to_string(c->port) : c->worker_id});
            return worker::run_worker(*c);
          }};
}

}  // namespace llorch::cli
