// The HTTP client against a peer that goes silent mid-stream without closing (a host cut off):
// the read timeout ends the call, and so, much sooner, does the abandon flag.
#include "net/http_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <thread>

namespace llorch::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Answers the first request with the head of an event stream and one chunk, then says nothing
// more, keeping the connection open until it is destroyed.
class SilentPeer {
 public:
  SilentPeer() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] {
      asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) return;
      char request[4096];
      socket.read_some(asio::buffer(request), ec);
      const std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
          "\r\n5\r\nhello\r\n";
      asio::write(socket, asio::buffer(head), ec);
      while (!stop_.load()) std::this_thread::sleep_for(10ms);
    });
  }
  ~SilentPeer() {
    stop_.store(true);
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/events";
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// What a call that cannot end normally gave before it failed, and how.
struct Ending {
  std::string body;
  bool failed = false;
  bool timed_out = false;
  Clock::duration took{};
};
Ending call(const ClientRequest& request) {
  Ending e;
  const auto start = Clock::now();
  try {
    http_call(request, [&](const ClientResponse&, std::string_view chunk) {
      e.body += chunk;
      return true;
    });
  } catch (const std::exception& error) {
    e.failed = true;
    e.timed_out = is_timeout(error);
  }
  e.took = Clock::now() - start;
  return e;
}

TEST(HttpClient, ASilentPeerEndsTheCallAtTheReadTimeout) {
  SilentPeer peer;
  ClientRequest request{.method = "GET", .url = peer.url()};
  request.timeout = 300ms;
  const Ending e = call(request);
  EXPECT_TRUE(e.failed && e.timed_out);
  EXPECT_EQ(e.body, "hello");
  EXPECT_LT(e.took, 5s);
}

TEST(HttpClient, TheAbandonFlagEndsTheCallLongBeforeTheTimeout) {
  SilentPeer peer;
  std::atomic<bool> abandon{false};
  ClientRequest request{.method = "GET", .url = peer.url()};
  request.timeout = 60s;
  request.abandon = &abandon;
  std::thread later([&] {
    std::this_thread::sleep_for(200ms);
    abandon.store(true);
  });
  const Ending e = call(request);
  later.join();
  EXPECT_TRUE(e.failed);
  EXPECT_FALSE(e.timed_out) << "abandoned, not timed out";
  EXPECT_EQ(e.body, "hello");
  EXPECT_LT(e.took, 2s) << "within a few 100 ms checks of the flag";
}

}  // namespace
}  // namespace llorch::net
