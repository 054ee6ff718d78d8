// How a process's main() sets narration up: level and format from the environment, sinks on stdout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "narration/narrator.hpp"

namespace llorch::narration {

enum class LogFormat { json, pretty };

struct LogSettings {
  Level level = Level::info;
  LogFormat format = LogFormat::json;
  std::vector<std::string> problems;  // unusable values found, each a sentence naming the fix
};

// LLORCH_LOG (trace|debug|info|warn|error|fatal) and LLORCH_LOG_FORMAT (json|pretty) override the
// defaults: info, and pretty only when stdout is a terminal. Null means unset.
LogSettings log_settings_from(const char* log_level, const char* log_format, bool stdout_is_tty);

// Reads the environment, installs a stdout narrator for `identity` as the process's narrator,
// and narrates (warn) each problem with the settings. Returns the installed narrator.
std::shared_ptr<Narrator> install_stdout_narrator(Identity identity);

// The same for a command whose stdout carries its output (generated text): narration goes to
// `fd` (normally stderr), pretty when that is a terminal. `min_level` applies unless LLORCH_LOG
// says otherwise.
std::shared_ptr<Narrator> install_narrator_on(int fd, Identity identity, Level min_level);

// For a command that runs servers inside itself for the user's sake (`llorch run --model`): the
// narrator works at `min_level` (request streams get every event), but `fd` shows only events at
// `shown` or above, unless LLORCH_LOG says otherwise.
std::shared_ptr<Narrator> install_filtered_narrator_on(int fd, Identity identity, Level min_level,
                                                       Level shown);

}  // namespace llorch::narration
