#include "narration/fatal.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <string>

#include "narration/text_safety.hpp"

namespace llorch::narration {

namespace {

// Filled before any handler can run, read in the handlers (no allocation there).
char g_emitted_by[64] = "llorch";
char g_actor[32] = "worker";
int g_fd = STDOUT_FILENO;

// A bounded buffer that only appends: the signal path's formatting.
struct Line {
  char text[1024];
  std::size_t size = 0;
  void add(const char* s) {
    for (; *s != '\0' && size + 1 < sizeof(text); ++s) text[size++] = *s;
  }
  void add_number(long value, int width) {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value > 0 && n < 20);
    while (n < width) digits[n++] = '0';
    while (n > 0 && size + 1 < sizeof(text)) text[size++] = digits[--n];
  }
};

// RFC 3339 UTC with milliseconds, from clock_gettime alone (gmtime is not async-signal-safe).
void add_timestamp(Line& line) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  long days = now.tv_sec / 86400;
  const long seconds = now.tv_sec % 86400;
  // Howard Hinnant's civil_from_days.
  days += 719468;
  const long era = days / 146097;
  const long doe = days - era * 146097;
  const long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long mp = (5 * doy + 2) / 153;
  const long day = doy - (153 * mp + 2) / 5 + 1;
  const long month = mp < 10 ? mp + 3 : mp - 9;
  const long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  line.add_number(year, 4);
  line.add("-");
  line.add_number(month, 2);
  line.add("-");
  line.add_number(day, 2);
  line.add("T");
  line.add_number(seconds / 3600, 2);
  line.add(":");
  line.add_number(seconds / 60 % 60, 2);
  line.add(":");
  line.add_number(seconds % 60, 2);
  line.add(".");
  line.add_number(now.tv_nsec / 1000000, 3);
  line.add("Z");
}

// `human` must already be JSON-safe (no quotes, backslashes or control characters).
void write_fatal_line(const char* human) {
  Line line;
  line.add(R"({"ts":")");
  add_timestamp(line);
  line.add(R"(","level":"fatal","actor":")");
  line.add(g_actor);
  line.add(R"(","action":"fatal_error","human":")");
  line.add(human);
  line.add(R"(","pid":)");
  line.add_number(::getpid(), 1);
  line.add(R"(,"emitted_by":")");
  line.add(g_emitted_by);
  line.add("\"}\n");
  std::size_t written = 0;
  while (written < line.size) {
    const ssize_t n = ::write(g_fd, line.text + written, line.size - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
}

const char* describe(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "Fatal: SIGSEGV (invalid memory access); the process stops here";
    case SIGBUS:
      return "Fatal: SIGBUS (a mapped file changed or shrank under the process, or bad alignment); "
             "the process stops here";
    case SIGFPE:
      return "Fatal: SIGFPE (arithmetic fault); the process stops here";
    case SIGILL:
      return "Fatal: SIGILL (an instruction this CPU does not have); the process stops here";
    case SIGABRT:
      return "Fatal: SIGABRT (the process aborted); the process stops here";
    default:
      return "Fatal: a fatal signal; the process stops here";
  }
}

void on_fatal_signal(int signal) {
  write_fatal_line(describe(signal));
  // Die as the signal would have made it die: the parent sees the signal, not an exit code.
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(signal, &fallback, nullptr);
  ::raise(signal);
}

void on_terminate() {
  std::string what = "an unknown exception";
  if (const auto current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  } else {
    what = "std::terminate without an exception";
  }
  // JSON-safe: no quotes, backslashes or control characters; at most 400 bytes.
  std::string safe = what;
  sanitize(safe);
  for (char& c : safe)
    if (c == '"' || c == '\\') c = '\'';
  if (safe.size() > 400) safe.resize(400);
  const std::string human = "Fatal: uncaught exception: " + safe + "; the process stops here";
  write_fatal_line(human.c_str());
  // SIGABRT would write a second line: leave its handler first.
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(SIGABRT, &fallback, nullptr);
  std::abort();
}

void copy_name(char* to, std::size_t capacity, std::string_view from) {
  std::size_t n = 0;
  for (char c : from) {
    if (n + 1 >= capacity) break;
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    to[n++] = plain ? c : '_';
  }
  to[n] = '\0';
}

}  // namespace

void install_fatal_handlers(std::string_view emitted_by, std::string_view actor, int fd) {
  g_fd = fd;
  copy_name(g_emitted_by, sizeof g_emitted_by, emitted_by);
  copy_name(g_actor, sizeof g_actor, actor);
  std::set_terminate(on_terminate);
  // A stack of its own, so that a stack overflow can still be reported.
  static std::array<char, 64 * 1024> alternate_stack;
  stack_t stack{};
  stack.ss_sp = alternate_stack.data();
  stack.ss_size = alternate_stack.size();
  ::sigaltstack(&stack, nullptr);
  for (const int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    struct sigaction action {};
    action.sa_handler = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_ONSTACK;
    ::sigaction(signal, &action, nullptr);
  }
}

}  // namespace llorch::narration
