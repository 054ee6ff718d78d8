// One child process with its stdout and stderr piped to us line by line, and its exit reported —
// the pool manager's view of a worker as an operating-system process.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace llorch::pool {

enum class OutputStream { stdout_stream, stderr_stream };

struct ExitStatus {
  std::optional<int> exit_code;  // set when it exited
  std::optional<int> signal;     // set when a signal killed it
  std::string describe() const;  // "exit code 3" / "killed by signal 9 (SIGKILL)"
};

struct ChildCallbacks {
  // Each complete line (without the newline; lines over 64 KiB arrive cut into pieces). Called
  // from the stream's reader thread.
  std::function<void(OutputStream, std::string line)> on_line;
  // Once, after the process has been reaped and its output read to the end (or 2 s passed).
  std::function<void(ExitStatus)> on_exit;
};

struct ChildOptions {
  std::string binary;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing in) ours
  std::vector<std::string> unset_env;                    // of ours, not passed on (secrets)
};

// Spawns at construction; throws std::system_error when the binary cannot be started. The child
// gets SIGTERM if the thread that spawned it dies (PR_SET_PDEATHSIG), so a pool manager that is
// killed outright leaves no orphans; it inherits no descriptor but its three standard ones.
class ChildProcess {
 public:
  ChildProcess(const ChildOptions& options, ChildCallbacks callbacks);
  // Kills the process (SIGKILL) if it still runs, and waits for every thread.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // Sends `sig` unless the process has already exited (never to a recycled pid).
  void signal(int sig);
  bool exited() const;

 private:
  void read_stream(int fd, OutputStream stream);
  void wait_for_exit();

  pid_t pid_ = -1;
  ChildCallbacks callbacks_;
  mutable std::mutex mutex_;
  std::condition_variable readers_done_;
  int readers_open_ = 2;
  bool exited_ = false;
  std::thread stdout_reader_;
  std::thread stderr_reader_;
  std::thread waiter_;
};

}  // namespace llorch::pool
