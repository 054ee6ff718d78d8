#include "pool/child_process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace llorch::pool {

namespace bp = boost::process;

namespace {

constexpr std::size_t kMaxLine = 64 * 1024;

// Runs in the child between fork and exec (after the pipes are in place): die with the parent
// (and make sure the parent is still there: it may have died before prctl took effect), leave
// the terminal's process group, and let
// no descriptor but 0, 1 and 2 cross exec — a worker holding a sibling's pipe would hide that
// sibling's exit, one holding our listening socket would keep our port. The descriptors are
// marked close-on-exec rather than closed, so Boost.Process's own exec-error pipe still works.
// Only async-signal-safe calls here: the parent is multithreaded.
struct ChildSetup : bp::extend::handler {
  pid_t parent = ::getpid();
  template <class Executor>
  void on_exec_setup(Executor&) const {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    // Its own process group: a Ctrl-C at the terminal reaches the pool manager only, which then
    // stops its workers in order.
    ::setpgid(0, 0);
    // A worker starts with every signal deliverable, whatever the parent blocked (`llorch run`
    // blocks SIGINT/SIGTERM to take them on one thread; a blocked mask survives exec).
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      rlimit limit{};
      const rlim_t top = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                             ? std::min<rlim_t>(limit.rlim_cur, 1 << 20)
                             : 65536;
      for (int fd = 3; fd < static_cast<int>(top); ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
};

int take_fd(bp::pipe& pipe) {
  const int fd = ::fcntl(pipe.native_source(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup of a child's pipe");
  return fd;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (signal) {
    const char* name = ::sigabbrev_np(*signal);
    return name != nullptr ? fmt::format("killed by signal {} (SIG{})", *signal, name)
                           : fmt::format("killed by signal {}", *signal);
  }
  if (exit_code) return fmt::format("exit code {}", *exit_code);
  return "exit status unknown";
}

ChildProcess::ChildProcess(const ChildOptions& options, ChildCallbacks callbacks)
    : callbacks_(std::move(callbacks)) {
  bp::pipe out;
  bp::pipe err;
  auto environment = boost::this_process::environment();
  for (const auto& key : options.unset_env) {
    if (environment.find(key) != environment.end()) environment.erase(key);
  }
  for (const auto& [key, value] : options.env) environment[key] = value;
  bp::child child(bp::exe = options.binary, bp::args = options.args, bp::std_out > out,
                  bp::std_err > err, bp::std_in < bp::null, environment, ChildSetup{});
  pid_ = child.id();
  child.detach();  // reaped by wait_for_exit, which knows when the pid may be reused
  const int out_fd = take_fd(out);
  const int err_fd = take_fd(err);
  stdout_reader_ =
      std::thread([this, out_fd] { read_stream(out_fd, OutputStream::stdout_stream); });
  stderr_reader_ =
      std::thread([this, err_fd] { read_stream(err_fd, OutputStream::stderr_stream); });
  waiter_ = std::thread([this] { wait_for_exit(); });
}

ChildProcess::~ChildProcess() {
  signal(SIGKILL);
  for (std::thread* t : {&waiter_, &stdout_reader_, &stderr_reader_}) {
    if (t->joinable()) t->join();
  }
}

void ChildProcess::signal(int sig) {
  std::lock_guard lock(mutex_);
  if (!exited_ && pid_ > 0) ::kill(pid_, sig);
}

bool ChildProcess::exited() const {
  std::lock_guard lock(mutex_);
  return exited_;
}

void ChildProcess::read_stream(int fd, OutputStream stream) {
  std::string pending;
  char buffer[8192];
  const auto deliver = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (callbacks_.on_line) callbacks_.on_line(stream, std::move(line));
  };
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      deliver(pending.substr(start, nl - start));
    pending.erase(0, start);
    while (pending.size() >= kMaxLine) {
      deliver(pending.substr(0, kMaxLine));
      pending.erase(0, kMaxLine);
    }
  }
  if (!pending.empty()) deliver(std::move(pending));
  ::close(fd);
  std::lock_guard lock(mutex_);
  --readers_open_;
  readers_done_.notify_all();
}

void ChildProcess::wait_for_exit() {
  // Wait without reaping first, so that signal() can never reach a recycled pid: the pid stays
  // ours until waitpid below, and exited_ is set before it.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
  int status = 0;
  {
    std::lock_guard lock(mutex_);
    exited_ = true;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ExitStatus exit;
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
  {
    // Let the last lines arrive before the exit is reported; a grandchild holding the pipes
    // open must not hold the report back for long.
    std::unique_lock lock(mutex_);
    readers_done_.wait_for(lock, std::chrono::seconds(2), [&] { return readers_open_ == 0; });
  }
  if (callbacks_.on_exit) callbacks_.on_exit(exit);
}

}  // namespace llorch::pool
