#include "nats_cluster.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/http_client.hpp"

namespace llorch::testing {

namespace {

using nlohmann::json;

// A port nothing listens on now (the kernel's pick; free again once closed).
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

json monitor(NatsServer& server, const std::string& path) {
  if (server.monitor_url().empty()) return nullptr;
  try {
    net::ClientRequest request{.method = "GET", .url = server.monitor_url() + path};
    request.timeout = std::chrono::milliseconds(1000);
    return json::parse(net::http_call(request).body, nullptr, false);
  } catch (const std::exception&) {
    return nullptr;  // that member is down
  }
}

// The stream's detail as a live member reports it, or null.
json stream_detail(const std::vector<std::unique_ptr<NatsServer>>& servers,
                   const std::string& stream) {
  for (const auto& server : servers) {
    const json jsz = monitor(*server, "/jsz?accounts=true&streams=true&config=true");
    if (!jsz.is_object()) continue;
    for (const auto& account : jsz.value("account_details", json::array()))
      for (const auto& detail : account.value("stream_detail", json::array()))
        if (detail.value("name", "") == stream) return detail;
  }
  return nullptr;
}

}  // namespace

NatsCluster::NatsCluster(std::string token) {
  constexpr int kMembers = 3;
  ClusterSeat seat;
  std::vector<int> route_ports;
  for (int i = 0; i < kMembers; ++i) {
    route_ports.push_back(unused_port());
    seat.routes.push_back(fmt::format("nats://127.0.0.1:{}", route_ports.back()));
  }
  for (int i = 0; i < kMembers; ++i) {
    seat.name = fmt::format("n{}", i + 1);
    seat.route_port = route_ports[i];
    names_.push_back(seat.name);
    servers_.push_back(std::make_unique<NatsServer>(token, seat));
    if (servers_.back()->url().empty()) return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    const json jsz = monitor(*servers_.front(), "/jsz");
    if (jsz.is_object() && !jsz["meta_cluster"].value("leader", "").empty()) {
      for (const auto& s : servers_) {
        if (!url_.empty()) url_ += ',';
        url_ += s->url();
      }
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int NatsCluster::leader_of(const std::string& stream) const {
  const json detail = stream_detail(servers_, stream);
  if (!detail.is_object()) return -1;
  const std::string leader = detail["cluster"].value("leader", "");
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == leader) return static_cast<int>(i);
  return -1;
}

int NatsCluster::replicas_of(const std::string& stream) const {
  const json detail = stream_detail(servers_, stream);
  return detail.is_object() ? detail["config"].value("num_replicas", 0) : 0;
}

}  // namespace llorch::testing
