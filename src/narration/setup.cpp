#include "narration/setup.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

#include "narration/console_sink.hpp"
#include "narration/fatal.hpp"
#include "narration/json_sink.hpp"
#include "narration/narrate.hpp"
#include "narration/terminal.hpp"
#include "narration/vocabulary.hpp"

namespace llorch::narration {

LogSettings log_settings_from(const char* log_level, const char* log_format, bool stdout_is_tty) {
  LogSettings settings;
  settings.format = stdout_is_tty ? LogFormat::pretty : LogFormat::json;
  if (log_level != nullptr && *log_level != '\0') {
    if (const auto level = parse_level(log_level)) {
      settings.level = *level;
    } else {
      settings.problems.push_back(fmt::format(
          "LLORCH_LOG={:?} is not a level; using info. Set it to one of trace, debug, info, "
          "warn, error, fatal",
          log_level));
    }
  }
  if (log_format != nullptr && *log_format != '\0') {
    const std::string_view format = log_format;
    if (format == "json") {
      settings.format = LogFormat::json;
    } else if (format == "pretty") {
      settings.format = LogFormat::pretty;
    } else {
      settings.problems.push_back(
          fmt::format("LLORCH_LOG_FORMAT={:?} is not a format; set it to json or pretty", format));
    }
  }
  return settings;
}

namespace {

class LevelFilterSink final : public Sink {
 public:
  LevelFilterSink(std::shared_ptr<Sink> inner, Level shown)
      : inner_(std::move(inner)), shown_(shown) {}
  void write(const Event& event) override {
    if (event.level >= shown_) inner_->write(event);
  }

 private:
  std::shared_ptr<Sink> inner_;
  Level shown_;
};

// The actor a process's fatal line names, from its component ("llorch-worker" → worker).
std::string_view actor_of(std::string_view component) {
  if (component.ends_with("worker")) return actor::worker;
  if (component.ends_with("pool-manager")) return actor::pool_manager;
  if (component.ends_with("orchestrator") || component.ends_with("serve"))
    return actor::orchestrator;
  return actor::cli;
}

std::shared_ptr<Sink> sink_for(int fd, const LogSettings& settings, bool tty) {
  (void)tty;
  if (settings.format == LogFormat::pretty)
    return std::make_shared<ConsoleSink>(fd, colours_wanted(fd));
  return std::make_shared<JsonLineSink>(fd);
}

}  // namespace

std::shared_ptr<Narrator> install_filtered_narrator_on(int fd, Identity identity, Level min_level,
                                                       Level shown) {
  install_fatal_handlers(identity.component, actor_of(identity.component), fd);
  const bool tty = ::isatty(fd) == 1;
  const char* level_env = std::getenv("LLORCH_LOG");
  const LogSettings settings = log_settings_from(level_env, std::getenv("LLORCH_LOG_FORMAT"), tty);
  const bool level_given = level_env != nullptr && *level_env != '\0' && parse_level(level_env);
  auto narrator = std::make_shared<Narrator>(
      std::min(min_level, level_given ? settings.level : min_level), std::move(identity));
  narrator->add_sink(std::make_shared<LevelFilterSink>(sink_for(fd, settings, tty),
                                                       level_given ? settings.level : shown));
  Narrator::install(narrator);
  return narrator;
}

std::shared_ptr<Narrator> install_narrator_on(int fd, Identity identity, Level min_level) {
  install_fatal_handlers(identity.component, actor_of(identity.component), fd);
  const bool tty = ::isatty(fd) == 1;
  const char* level_env = std::getenv("LLORCH_LOG");
  const LogSettings settings = log_settings_from(level_env, std::getenv("LLORCH_LOG_FORMAT"), tty);
  const bool level_given = level_env != nullptr && *level_env != '\0' && parse_level(level_env);
  auto narrator =
      std::make_shared<Narrator>(level_given ? settings.level : min_level, std::move(identity));
  if (settings.format == LogFormat::pretty) {
    narrator->add_sink(std::make_shared<ConsoleSink>(fd, colours_wanted(fd)));
  } else {
    narrator->add_sink(std::make_shared<JsonLineSink>(fd));
  }
  Narrator::install(narrator);
  for (const std::string& problem : settings.problems) {
    warn(actor::narration, action::log_config).target("environment").human("{}", problem).emit();
  }
  return narrator;
}

std::shared_ptr<Narrator> install_stdout_narrator(Identity identity) {
  return install_narrator_on(STDOUT_FILENO, std::move(identity), Level::info);
}

}  // namespace llorch::narration
