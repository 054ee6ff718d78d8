#include "nats_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "dies_with_the_test.hpp"

namespace llorch::testing {

namespace bp = boost::process;

NatsServer::NatsServer(std::string token, std::optional<ClusterSeat> seat)
    : store_(std::filesystem::temp_directory_path() /
             ("llorch-nats-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()))),
      token_(std::move(token)),
      seat_(std::move(seat)) {
  start("-1", "-1");
}

void NatsServer::start(const std::string& port, const std::string& monitor_port) {
  std::vector<std::string> args{"-js", "-a",         "127.0.0.1", "-p",           port,
                                "-m",  monitor_port, "-sd",       store_.string()};
  if (!token_.empty()) args.insert(args.end(), {"--auth", token_});
  if (seat_) {
    std::string routes;
    for (const auto& route : seat_->routes) {
      if (!routes.empty()) routes += ',';
      routes += route;
    }
    args.insert(args.end(),
                {"--server_name", seat_->name, "--cluster_name", "llorch-test", "--cluster",
                 "nats://127.0.0.1:" + std::to_string(seat_->route_port), "--routes", routes});
  }
  if (std::string(LLORCH_NATS_SERVER).empty()) return;  // not installed: url() stays empty
  err_ = std::make_unique<bp::ipstream>();
  child_ = bp::child(LLORCH_NATS_SERVER, bp::args(args), bp::std_out > bp::null,
                     bp::std_err > *err_, DiesWithTheTest{});
  std::mutex mutex;
  std::condition_variable found;
  bool done = false;
  std::string url;
  std::string monitor;
  reader_ = std::thread([&, this] {
    const std::string listening = "Listening for client connections on ";
    const std::string monitoring = "Starting http monitor on ";
    bool told = false;
    for (std::string line; std::getline(*err_, line);) {
      if (const auto at = line.find(monitoring); !told && at != std::string::npos) {
        std::lock_guard lock(mutex);
        monitor = "http://" + line.substr(at + monitoring.size());
      }
      const auto at = line.find(listening);
      if (!told && at != std::string::npos) {
        std::lock_guard lock(mutex);
        url = "nats://" + line.substr(at + listening.size());
        done = told = true;
        found.notify_all();
      }
    }
    if (!told) {
      std::lock_guard lock(mutex);
      done = true;
      found.notify_all();
    }
  });
  std::unique_lock lock(mutex);
  found.wait_for(lock, std::chrono::seconds(10), [&] { return done; });
  url_ = url;
  monitor_url_ = monitor;
  if (url_.empty()) {  // never listened: the reader must not outlive this frame's mutex
    lock.unlock();
    if (child_.running()) child_.terminate();
    reader_.join();
  }
}

void NatsServer::stop() {
  end(SIGTERM);
}

void NatsServer::kill() {
  end(SIGKILL);
}

void NatsServer::pause() {
  if (child_.valid() && child_.running()) ::kill(child_.id(), SIGSTOP);
}

void NatsServer::resume() {
  if (child_.valid()) ::kill(child_.id(), SIGCONT);
}

void NatsServer::end(int signal) {
  if (child_.valid() && child_.running()) {
    ::kill(child_.id(), signal);
    ::kill(child_.id(), SIGCONT);  // a paused one hears it too
    std::error_code ignored;
    child_.wait(ignored);
  }
  if (reader_.joinable()) reader_.join();
}

bool NatsServer::restart() {
  const std::string was = url_;
  const std::string monitor_was = monitor_url_;
  stop();
  const auto colon = was.rfind(':');
  const auto monitor_colon = monitor_was.rfind(':');
  if (colon == std::string::npos || monitor_colon == std::string::npos) return false;
  // The same ports and store: clients reconnect to it.
  start(was.substr(colon + 1), monitor_was.substr(monitor_colon + 1));
  return url_ == was;
}

NatsServer::~NatsServer() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(store_, ignored);
}

}  // namespace llorch::testing
