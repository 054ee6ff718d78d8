#include "cli/state_flags.hpp"

namespace llorch::cli {

CLI::Option* add_state_flags(CLI::App* command, StateFlags& flags, const std::string& state_help,
                             const std::string& ttl_help) {
  auto* state = command->add_option(
      "--state", flags.url,
      state_help +
          " (nats://HOST:PORT, or a cluster's servers separated by commas; credentials from "
          "LLORCH_NATS_TOKEN or LLORCH_NATS_USER/LLORCH_NATS_PASSWORD)");
  command
      ->add_option("--registry-ttl-ms", flags.registry_ttl_ms,
                   ttl_help + " (the same on every process sharing the state)")
      ->capture_default_str();
  command
      ->add_option("--state-replicas", flags.replicas,
                   "On how many NATS servers JetStream keeps each stream and bucket (a cluster "
                   "of 3 with 3 rides out the loss of one; the same on every process)")
      ->capture_default_str();
  return state;
}

std::optional<state::StateConfig> read_state_flags(const StateFlags& flags) {
  if (flags.url.empty()) return std::nullopt;
  return state::state_config(flags.url, std::chrono::milliseconds(flags.registry_ttl_ms),
                             flags.replicas);
}

}  // namespace llorch::cli
