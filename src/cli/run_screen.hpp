// What `llorch run` shows of a task's stream. On a terminal: a narration pane above the output,
// redrawn as events arrive, like the picture in the design note. Piped: the text on stdout and the
// narration on stderr, one line each. --json: every event as a JSON line.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace llorch::cli {

enum class ScreenKind { terminal, piped, json };

class RunScreen {
 public:
  virtual ~RunScreen() = default;
  // One event of the stream: its SSE name, its data parsed, and as it came.
  virtual void event(const std::string& type, const nlohmann::json& data, std::string_view raw) = 0;
  // A problem outside the stream (cannot connect, refused request).
  virtual void problem(const std::string& message) = 0;
  // The stream is over: draw the final state.
  virtual void finish() = 0;
};

// `quiet` hides narration. `title` is the request as the user typed it.
std::unique_ptr<RunScreen> make_run_screen(ScreenKind kind, bool quiet, std::string title);

// "✅" for request_validated, …: the pane's icon for an event's action and level.
std::string_view narration_icon(const std::string& action, const std::string& level);

}  // namespace llorch::cli
