// Test helpers: a real `llorch` child process (always stopped, also when a test fails), its
// narration read from stdout, and an SSE client.
#pragma once

#include <boost/process.hpp>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/sse_parser.hpp"
#include "narration/json_line.hpp"
#include "net/http_client.hpp"

namespace llorch::testing {

std::string model_path();

// `llorch <argv>` with stdout read line by line (narration forced to JSON lines).
class LlorchProcess {
 public:
  // Starts it and, when `wait_for_bind`, waits until it has narrated server_bind (or exited, or
  // 20 s passed). `env` may override LLORCH_LOG_FORMAT=json.
  explicit LlorchProcess(std::vector<std::string> argv,
                         std::vector<std::pair<std::string, std::string>> env = {},
                         bool wait_for_bind = true);
  // SIGTERM, then SIGKILL after 5 s; then a test failure if its stderr holds a sanitizer report
  // (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer), its own or its workers'.
  ~LlorchProcess();
  LlorchProcess(const LlorchProcess&) = delete;
  LlorchProcess& operator=(const LlorchProcess&) = delete;

  // http://address of its first server_bind event ("" when it never bound).
  std::string url() const { return url_; }
  int pid() const { return child_.id(); }
  bool running();
  void signal(int sig);
  // Waits for the process to exit; returns its exit code (or -1 on timeout).
  int wait_exit(std::chrono::milliseconds timeout);

  // Every stdout line so far, verbatim and parsed with the narration parser.
  std::vector<std::string> raw_lines();
  std::vector<narration::ParsedLine> lines();
  std::vector<narration::Event> events();
  // Waits until an event with this action appears (true) or the timeout passes (false).
  bool wait_for_action(const std::string& action, std::chrono::milliseconds timeout);
  // Waits until `accept` holds for some event; returns it.
  std::optional<narration::Event> wait_for_event(
      const std::function<bool(const narration::Event&)>& accept,
      std::chrono::milliseconds timeout);

 private:
  void expect_no_sanitizer_report();

  std::filesystem::path stderr_path_;
  std::string command_;  // "llorch <subcommand>", for the failure message
  boost::process::ipstream out_;
  boost::process::child child_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> raw_;
  std::string url_;
  int exit_code_ = -1;
  bool exited_ = false;
};

// `llorch worker --port 0 <args>`.
class WorkerProcess : public LlorchProcess {
 public:
  explicit WorkerProcess(std::vector<std::string> args,
                         std::vector<std::pair<std::string, std::string>> env = {});
};

struct StreamResult {
  unsigned status = 0;
  std::map<std::string, std::string> headers;
  std::string body;  // the body when it was not a stream
  std::vector<api::SseEvent> events;
  std::vector<nlohmann::json> data;  // each event's data, parsed
};

// POSTs to /execute and reads the whole stream (or the error body). `stop_after` > 0 closes the
// connection after that many events.
StreamResult execute(const std::string& worker_url, const std::string& body,
                     net::Headers headers = {}, std::size_t stop_after = 0);

struct Events {
  std::vector<api::SseEvent> events;
  std::vector<nlohmann::json> data;
};

// GETs a task's event stream (an orchestrator's /v2/tasks/{id}/events) and reads it to its end;
// `stop` returning true closes the connection after that event.
Events read_events(
    const std::string& url, net::Headers headers = {},
    const std::function<bool(const api::SseEvent&, const nlohmann::json&)>& stop = {});

// Appends what the tests received (every event's data and every error body) to a JSON-lines file
// that the contract test validates against contracts/openapi.yaml.
void record_received(const std::string& kind, const nlohmann::json& value);

}  // namespace llorch::testing
