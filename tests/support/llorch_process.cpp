#include "llorch_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "dies_with_the_test.hpp"

namespace llorch::testing {

namespace bp = boost::process;

std::string model_path() {
  return std::string(LLORCH_MODELS_DIR) + "/gguf/stories260K.gguf";
}

namespace {

std::vector<std::string> worker_argv(std::vector<std::string> args) {
  std::vector<std::string> argv{"worker"};
  bool has_port = false;
  for (const auto& a : args) has_port = has_port || a == "--port";
  if (!has_port) argv.insert(argv.end(), {"--port", "0"});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

WorkerProcess::WorkerProcess(std::vector<std::string> args,
                             std::vector<std::pair<std::string, std::string>> env)
    : LlorchProcess(worker_argv(std::move(args)), std::move(env)) {}

LlorchProcess::LlorchProcess(std::vector<std::string> argv,
                             std::vector<std::pair<std::string, std::string>> env,
                             bool wait_for_bind) {
  auto environment = boost::this_process::environment();
  environment["LLORCH_LOG_FORMAT"] = "json";
  for (const auto& [k, v] : env) environment[k] = v;
  // Its stderr (and its children's: workers inherit it) goes to a file that the destructor
  // reads for sanitizer reports, which would otherwise pass unseen.
  static std::atomic<int> serial{0};
  stderr_path_ =
      std::filesystem::temp_directory_path() /
      ("llorch-test-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + ".stderr");
  command_ = argv.empty() ? "llorch" : "llorch " + argv.front();
  child_ = bp::child(LLORCH_BINARY, bp::args(argv), bp::std_out > out_,
                     bp::std_err > stderr_path_.string(), environment, DiesWithTheTest{});
  reader_ = std::thread([this] {
    for (std::string line; std::getline(out_, line);) {
      std::lock_guard lock(mutex_);
      raw_.push_back(line);
      const auto parsed = narration::parse_line(line);
      if (const auto* e = std::get_if<narration::Event>(&parsed);
          e && e->action == "server_bind" && e->address && url_.empty()) {
        url_ = "http://" + *e->address;
      }
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    exited_ = true;
    changed_.notify_all();
  });
  if (!wait_for_bind) return;
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, std::chrono::seconds(20), [&] { return !url_.empty() || exited_; });
}

LlorchProcess::~LlorchProcess() {
  if (child_.running()) {
    ::kill(child_.id(), SIGTERM);
    if (wait_exit(std::chrono::milliseconds(5000)) == -1 && child_.running()) child_.terminate();
  }
  if (child_.valid()) {
    std::error_code ignored;
    child_.wait(ignored);
  }
  if (reader_.joinable()) reader_.join();
  expect_no_sanitizer_report();
}

void LlorchProcess::expect_no_sanitizer_report() {
  std::ifstream in(stderr_path_);
  std::string report;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    // AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer ("file:line: runtime error:").
    if (line.find("Sanitizer") != std::string::npos ||
        line.find("runtime error:") != std::string::npos)
      found = true;
    if (found && report.size() < 4000) report += line + "\n";
  }
  in.close();
  std::error_code ignored;
  std::filesystem::remove(stderr_path_, ignored);
  if (found) ADD_FAILURE() << command_ << " (pid " << pid() << ") reported:\n" << report;
}

bool LlorchProcess::running() {
  return child_.running();
}

void LlorchProcess::signal(int sig) {
  ::kill(child_.id(), sig);
}

int LlorchProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (!child_.running(ec)) {
      child_.wait(ec);
      return child_.exit_code();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

std::vector<std::string> LlorchProcess::raw_lines() {
  std::lock_guard lock(mutex_);
  return raw_;
}

std::vector<narration::ParsedLine> LlorchProcess::lines() {
  std::lock_guard lock(mutex_);
  std::vector<narration::ParsedLine> out;
  for (const auto& line : raw_) out.push_back(narration::parse_line(line));
  return out;
}

std::vector<narration::Event> LlorchProcess::events() {
  std::vector<narration::Event> out;
  for (auto& line : lines()) {
    if (auto* e = std::get_if<narration::Event>(&line)) out.push_back(std::move(*e));
  }
  return out;
}

bool LlorchProcess::wait_for_action(const std::string& action, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& e : events()) {
      if (e.action == action) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::optional<narration::Event> LlorchProcess::wait_for_event(
    const std::function<bool(const narration::Event&)>& accept, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& e : events()) {
      if (accept(e)) return std::move(e);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

void record_received(const std::string& kind, const nlohmann::json& value) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  const char* override_path = std::getenv("LLORCH_EVENTS_LOG");
  std::ofstream(override_path != nullptr ? override_path : LLORCH_EVENTS_LOG, std::ios::app)
      << nlohmann::json{{"kind", kind}, {"value", value}}.dump() << "\n";
}

StreamResult execute(const std::string& worker_url, const std::string& body, net::Headers headers,
                     std::size_t stop_after) {
  StreamResult result;
  api::SseParser parser;
  net::ClientRequest request{.method = "POST",
                             .url = worker_url + "/execute",
                             .body = body,
                             .headers = std::move(headers)};
  request.timeout = std::chrono::milliseconds(30000);
  const auto response =
      net::http_call(request, [&](const net::ClientResponse& head, std::string_view chunk) {
        const auto type = head.headers.find("content-type");
        const bool streaming =
            type != head.headers.end() && type->second.rfind("text/event-stream", 0) == 0;
        if (!streaming) {
          result.body.append(chunk);
          return true;
        }
        for (auto& e : parser.feed(chunk)) {
          result.data.push_back(nlohmann::json::parse(e.data));
          record_received("event", result.data.back());
          result.events.push_back(std::move(e));
          if (stop_after > 0 && result.events.size() >= stop_after) return false;
        }
        return true;
      });
  result.status = response.status;
  result.headers = response.headers;
  if (!result.body.empty() && result.status >= 400)
    record_received("error", nlohmann::json::parse(result.body));
  return result;
}

Events read_events(const std::string& url, net::Headers headers,
                   const std::function<bool(const api::SseEvent&, const nlohmann::json&)>& stop) {
  Events out;
  api::SseParser parser;
  net::ClientRequest r{.method = "GET", .url = url};
  r.headers = std::move(headers);
  net::http_call(r, [&](const net::ClientResponse&, std::string_view chunk) {
    for (auto& e : parser.feed(chunk)) {
      out.data.push_back(nlohmann::json::parse(e.data));
      out.events.push_back(e);
      record_received("event", out.data.back());
      if (stop && stop(out.events.back(), out.data.back())) return false;
    }
    return true;
  });
  return out;
}

}  // namespace llorch::testing
