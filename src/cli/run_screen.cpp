#include "cli/run_screen.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <map>

#include "api/json_input.hpp"
#include "narration/text_safety.hpp"

namespace llorch::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string_view icon_of_action(const std::string& action) {
  static const std::map<std::string, std::string_view, std::less<>> icons{
      {"task_admitted", "🎟️"},    {"task_queued", "⏳"},
      {"task_dispatched", "📮"},        {"task_relaying", "📡"},
      {"request_validated", "✅"},      {"chat_template", "💬"},
      {"inference_start", "🚀"},        {"tokenize", "🍰"},
      {"cache_reset", "🧹"},         {"batch_joined", "🤝"},
      {"prefix_reused", "⏩"},          {"prompt_progress", "📖"},
      {"token_generate", "🎯"},         {"inference_complete", "🎉"},
      {"inference_cancelled", "🛑"}, {"task_cancelled", "🛑"},
      {"client_disconnected", "👋"},    {"worker_lost", "💥"}};
  const auto it = icons.find(action);
  return it == icons.end() ? std::string_view("•") : it->second;
}

// Columns a UTF-8 string takes on a terminal: wide for emoji and East Asian ideographs, nothing
// for joiners and variation selectors. Good enough to count wrapped rows.
std::size_t display_width(std::string_view s) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else if (c >= 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if (c >= 0xC0) {
      cp = c & 0x1F;
      len = 2;
    }
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    if (cp == 0x200D || (cp >= 0xFE00 && cp <= 0xFE0F) || cp < 0x20) continue;
    const bool wide = (cp >= 0x1F000) || (cp >= 0x2600 && cp <= 0x27BF) ||
                      (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFF00 && cp <= 0xFF60) || cp == 0x231B || cp == 0x23F3;
    width += wide ? 2 : 1;
  }
  return width;
}

// Text from the server (narration, error messages) for a terminal: no escape sequences.
std::string terminal_text(std::string text) {
  narration::sanitize(text);
  return text;
}

std::string ending_line(const nlohmann::json& end, std::size_t tokens, double elapsed_ms) {
  const double rate = elapsed_ms > 0 ? static_cast<double>(tokens) * 1000.0 / elapsed_ms : 0.0;
  const std::string reason = terminal_text(api::string_or(end, "stop_reason"));
  if (reason == "CANCELLED") return fmt::format("🛑 Cancelled after {} tokens", tokens);
  return fmt::format("🏁 Done: {} tokens in {:.0f} ms end to end ({:.1f} tok/s, {})", tokens,
                     elapsed_ms, rate, reason);
}

std::string error_line(const nlohmann::json& error) {
  return fmt::format("❌ {}: {}", terminal_text(api::string_or(error, "code", "ERROR")),
                     terminal_text(api::string_or(error, "message")));
}

std::string narration_line(const nlohmann::json& data) {
  const std::string action = api::string_or(data, "action");
  const std::string level = api::string_or(data, "level", "info");
  return fmt::format("{} {}", narration_icon(action, level),
                     terminal_text(api::string_or(data, "human")));
}

// The title line shows the start of a long prompt on one line.
std::string shorten(std::string text) {
  narration::sanitize(text);  // the user's prompt may hold escape sequences too
  if (text.size() <= 60) return text;
  std::size_t cut = 57;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole chars
  return text.substr(0, cut) + "…";
}

class TerminalScreen final : public RunScreen {
 public:
  TerminalScreen(bool quiet, std::string title)
      : quiet_(quiet), title_(shorten(std::move(title))) {}

  void event(const std::string& type, const nlohmann::json& data, std::string_view) override {
    if (type == "narration") {
      if (!quiet_) narration_.push_back(narration_line(data));
    } else if (type == "token") {
      std::string t = api::string_or(data, "t");
      narration::sanitize_keeping_lines(t);  // the model's bytes must not drive the terminal
      output_ += t;
      ++tokens_;
    } else if (type == "end") {
      footer_ = ending_line(data, tokens_, elapsed_ms());
    } else if (type == "error") {
      footer_ = error_line(data);
    }
    if (Clock::now() - last_draw_ > std::chrono::milliseconds(33)) draw(false);
  }

  void problem(const std::string& message) override {
    footer_ = "❌ " + message;
    draw(false);
  }

  void finish() override { draw(true); }

 private:
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
  }

  // Redraws the whole screen in place: back to its first row, clear, print. While streaming,
  // the panes show their last rows so that the screen fits the terminal; the last draw shows all.
  void draw(bool final) {
    winsize ws{};
    const std::size_t cols =
        ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    const std::size_t rows = ws.ws_row > 0 ? ws.ws_row : 24;
    std::vector<std::string> lines;
    lines.push_back(fmt::format("┌ Inference request: \"{}\"", title_));
    if (!quiet_) {
      lines.push_back("├ [Narration]");
      const std::size_t keep =
          final ? narration_.size() : std::min<std::size_t>(narration_.size(), 8);
      for (std::size_t i = narration_.size() - keep; i < narration_.size(); ++i)
        lines.push_back("│ " + narration_[i]);
    }
    lines.push_back("├ [Output]");
    std::vector<std::string> out_lines;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= output_.size(); ++i) {
      if (i == output_.size() || output_[i] == '\n') {
        out_lines.push_back("│ " + output_.substr(start, i - start));
        start = i + 1;
      }
    }
    const std::size_t room = rows > lines.size() + 4 ? rows - lines.size() - 4 : 1;
    std::size_t first = 0;
    if (!final) {
      // Keep the tail that fits (counting wrapped rows).
      std::size_t used = 0;
      first = out_lines.size();
      while (first > 0) {
        const std::size_t r =
            std::max<std::size_t>(1, (display_width(out_lines[first - 1]) + cols - 1) / cols);
        if (used + r > room) break;
        used += r;
        --first;
      }
    }
    for (std::size_t i = first; i < out_lines.size(); ++i) lines.push_back(out_lines[i]);
    lines.push_back("└ " + (footer_.empty() ? std::string("…") : footer_));

    std::string frame;
    if (drawn_rows_ > 0) frame += fmt::format("\x1b[{}F", drawn_rows_);
    frame += "\x1b[J";
    std::size_t total = 0;
    for (const auto& line : lines) {
      frame += line + "\n";
      total += std::max<std::size_t>(1, (display_width(line) + cols - 1) / cols);
    }
    std::fwrite(frame.data(), 1, frame.size(), stdout);
    std::fflush(stdout);
    drawn_rows_ = total;
    last_draw_ = Clock::now();
  }

  bool quiet_;
  std::string title_;
  std::vector<std::string> narration_;
  std::string output_;
  std::string footer_;
  std::size_t tokens_ = 0;
  std::size_t drawn_rows_ = 0;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_draw_{};
};

class PipedScreen final : public RunScreen {
 public:
  explicit PipedScreen(bool quiet) : quiet_(quiet), stdout_is_terminal_(::isatty(1) == 1) {}

  void event(const std::string& type, const nlohmann::json& data, std::string_view) override {
    if (type == "narration") {
      if (!quiet_) say(narration_line(data));
    } else if (type == "token") {
      // Piped: the model's bytes as they are (documented); a terminal gets them made safe.
      std::string t = api::string_or(data, "t");
      if (stdout_is_terminal_) narration::sanitize_keeping_lines(t);
      std::fwrite(t.data(), 1, t.size(), stdout);
      std::fflush(stdout);
      ++tokens_;
    } else if (type == "end") {
      if (!quiet_) ending_ = ending_line(data, tokens_, elapsed_ms());
    } else if (type == "error") {
      ending_ = error_line(data);  // shown even when quiet: an error is never silent
    }
  }
  void problem(const std::string& message) override { ending_ = "❌ " + message; }
  void finish() override {
    if (tokens_ > 0) std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!ending_.empty()) say(ending_);
  }

 private:
  void say(const std::string& line) {
    std::fputs((line + "\n").c_str(), stderr);
    std::fflush(stderr);
  }
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
  }

  bool quiet_;
  bool stdout_is_terminal_;
  std::size_t tokens_ = 0;
  std::string ending_;
  Clock::time_point started_ = Clock::now();
};

class JsonScreen final : public RunScreen {
 public:
  void event(const std::string&, const nlohmann::json&, std::string_view raw) override {
    std::fwrite(raw.data(), 1, raw.size(), stdout);  // as the server sent it: one JSON object
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  void problem(const std::string& message) override {
    std::puts(nlohmann::json{{"type", "problem"}, {"message", message}}.dump().c_str());
  }
  void finish() override { std::fflush(stdout); }
};

}  // namespace

std::string_view narration_icon(const std::string& action, const std::string& level) {
  if (level == "error" || level == "fatal") return "❌";
  if (level == "warn") return "⚠️";
  return icon_of_action(action);
}

std::unique_ptr<RunScreen> make_run_screen(ScreenKind kind, bool quiet, std::string title) {
  switch (kind) {
    case ScreenKind::terminal:
      return std::make_unique<TerminalScreen>(quiet, std::move(title));
    case ScreenKind::piped:
      return std::make_unique<PipedScreen>(quiet);
    case ScreenKind::json:
      return std::make_unique<JsonScreen>();
  }
  return std::make_unique<PipedScreen>(quiet);
}

}  // namespace llorch::cli
