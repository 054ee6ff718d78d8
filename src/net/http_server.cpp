#include "net/http_server.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <deque>

#include "narration/correlation.hpp"
#include "narration/narrate.hpp"

namespace llorch::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Errors the server answers itself, before a handler sees the request, carry a correlation id too.
HttpResponse early_error(unsigned status, std::string_view code, std::string_view message,
                         std::string_view given_id) {
  const auto id = narration::resolve_correlation_id(
      given_id.empty() ? std::nullopt : std::optional<std::string_view>(given_id));
  return {status,
          "application/json",
          fmt::format(R"({{"error":{{"code":"{}","message":"{}","correlation_id":"{}"}}}})", code,
                      message, id.value),
          {{"X-Correlation-Id", id.value}}};
}

class Session : public std::enable_shared_from_this<Session>, public Exchange {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Handler> handler, ServerLimits limits,
          std::shared_ptr<std::atomic<int>> in_flight, std::shared_ptr<std::atomic<int>> open)
      : stream_(std::move(socket)),
        strand_(stream_.get_executor()),
        handler_(std::move(handler)),
        limits_(limits),
        in_flight_(std::move(in_flight)),
        open_(std::move(open)) {
    open_->fetch_add(1);
  }

  ~Session() override {
    finish_request();
    open_->fetch_sub(1);
  }

  void start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->read_request(); });
  }

  void respond(HttpResponse response) override {
    answered_ = true;
    asio::post(strand_, [self = shared_from_this(), response = std::move(response)]() mutable {
      self->stop_hangup_watch();
      self->write_response(std::move(response));
    });
  }

  void on_hangup(std::function<void()> hung_up) override {
    asio::post(strand_, [self = shared_from_this(), hung_up = std::move(hung_up)]() mutable {
      if (self->answered_ || self->closed_) return;
      self->hung_up_ = std::move(hung_up);
      self->watch_for_hangup();
    });
  }

  void stream(Headers headers, std::shared_ptr<FrameSource> source) override {
    answered_ = true;
    asio::post(strand_, [self = shared_from_this(), headers = std::move(headers),
                         source = std::move(source)]() mutable {
      self->start_stream(std::move(headers), std::move(source));
    });
  }

 private:
  void read_request() {
    parser_.emplace();
    answered_ = false;
    parser_->body_limit(limits_.body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    stream_.expires_after(std::chrono::seconds(limits_.header_read_seconds));
    http::async_read(stream_, buffer_, *parser_,
                     asio::bind_executor(
                         strand_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
                           self->on_read(ec);
                         }));
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return close();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write_response(
          early_error(413, "PAYLOAD_TOO_LARGE",
                      fmt::format("the body is larger than {} bytes", limits_.body_bytes),
                      std::string(parser_->get()["X-Correlation-Id"])));
    }
    if (ec == beast::error::timeout) return close();
    if (ec == http::error::header_limit) {
      keep_alive_ = false;
      return write_response(early_error(
          431, "HEADERS_TOO_LARGE",
          fmt::format("the request's headers are larger than {} bytes", limits_.header_bytes), ""));
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
        keep_alive_ = false;
        return write_response(
            early_error(400, "MALFORMED_HTTP", "the request is not valid HTTP/1.1", ""));
      }
      return close();
    }
    stream_.expires_never();
    auto message = parser_->release();
    keep_alive_ = message.keep_alive();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(message.body());
    in_flight_->fetch_add(1);
    counted_ = true;
    const std::string correlation = request.header("x-correlation-id");
    try {
      (*handler_)(std::move(request), shared_from_this());
    } catch (const std::exception& e) {
      // A handler that throws must not take the process down with it: the client gets a 500
      // (if nothing was answered yet) and the operator a line naming the cause.
      narration::error(narration::actor::http_server, narration::action::error)
          .human("A request handler failed: {}", e.what())
          .error_kind("INTERNAL")
          .emit();
      keep_alive_ = false;
      if (!answered_)
        write_response(early_error(
            500, "INTERNAL", "the server failed to handle the request; it is logged", correlation));
    }
  }

  void write_response(HttpResponse r) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    message->set(http::field::server, "llorch");
    message->set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) message->set(name, value);
    message->body() = std::move(r.body);
    message->keep_alive(keep_alive_);
    message->prepare_payload();
    http::async_write(stream_, *message,
                      asio::bind_executor(strand_, [self = shared_from_this(), message](
                                                       beast::error_code ec, std::size_t) {
                        self->finish_request();
                        if (ec) return self->close();
                        if (!self->keep_alive_) return self->linger();
                        self->read_request();
                      }));
  }

  void finish_request() {
    if (counted_) in_flight_->fetch_sub(1);
    counted_ = false;
  }

  // After an early answer (413, a malformed request) the client may still be sending:
  // half-close and read what comes for a moment, so that it sees the answer instead of a reset —
  // but at most kLingerBytes and one second, so that a client sending forever costs nothing.
  static constexpr std::size_t kLingerBytes = 64 * 1024;
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    discard(0);
  }
  void discard(std::size_t so_far) {
    stream_.async_read_some(asio::buffer(probe_),
                            asio::bind_executor(strand_, [self = shared_from_this(), so_far](
                                                             beast::error_code ec, std::size_t n) {
                              if (ec || so_far + n >= kLingerBytes) return self->close();
                              self->discard(so_far + n);
                            }));
  }

  void start_stream(Headers headers, std::shared_ptr<FrameSource> source) {
    source_ = std::move(source);
    std::string head =
        "HTTP/1.1 200 OK\r\nServer: llorch\r\nContent-Type: text/event-stream\r\nCache-Control: "
        "no-cache\r\n"
        "X-Accel-Buffering: no\r\nConnection: close\r\n";
    for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    pending_.push_back(std::move(head));
    source_->set_wakeup([weak = weak_from_this()] {
      if (auto self = weak.lock()) asio::post(self->strand_, [self] { self->pump(); });
    });
    watch_for_disconnect();
    pump();
  }

  // Waits for the socket to become readable without reading: end of file (or an error) is a
  // hang-up; bytes are a pipelined next request, left for read_request() after the answer.
  void watch_for_hangup() {
    stream_.socket().async_wait(
        tcp::socket::wait_read,
        asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec) {
          if (ec || !self->hung_up_) return;
          char byte = 0;
          const ssize_t n =
              ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;
          auto hung_up = std::move(self->hung_up_);
          self->hung_up_ = nullptr;
          hung_up();
        }));
  }
  void stop_hangup_watch() {
    if (!hung_up_) return;
    hung_up_ = nullptr;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
  }

  // A client that goes away shows up as a completed read (EOF or reset): that is how a stream
  // learns of it at once, instead of at its next write.
  void watch_for_disconnect() {
    stream_.socket().async_read_some(
        asio::buffer(probe_), asio::bind_executor(strand_, [self = shared_from_this()](
                                                               beast::error_code ec, std::size_t) {
          if (!ec) return self->watch_for_disconnect();  // stray bytes after the request: ignore
          if (!self->stream_ended_ && self->source_) self->source_->on_disconnect();
          self->close();
        }));
  }

  void pump() {
    if (writing_ || closed_) return;
    if (!stream_ended_) {
      std::string frames;
      if (!source_->pull(frames)) stream_ended_ = true;
      if (!frames.empty()) pending_.push_back(std::move(frames));
    }
    if (pending_.empty()) {
      if (stream_ended_) close();
      return;
    }
    writing_ = true;
    auto data = std::make_shared<std::string>(std::move(pending_.front()));
    pending_.pop_front();
    asio::async_write(stream_.socket(), asio::buffer(*data),
                      asio::bind_executor(strand_, [self = shared_from_this(), data](
                                                       beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) {
                          if (!self->stream_ended_ && self->source_) self->source_->on_disconnect();
                          self->stream_ended_ = true;
                          return self->close();
                        }
                        self->pump();
                      }));
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    finish_request();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    if (source_) source_->set_wakeup({});
  }

  beast::tcp_stream stream_;
  asio::strand<asio::any_io_executor> strand_;
  std::shared_ptr<const Handler> handler_;  // shared: sessions may outlive the server object
  ServerLimits limits_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  std::shared_ptr<FrameSource> source_;
  std::deque<std::string> pending_;
  char probe_[64];
  std::function<void()> hung_up_;  // on_hangup()'s callback while its watch is pending
  std::shared_ptr<std::atomic<int>> in_flight_;
  std::shared_ptr<std::atomic<int>> open_;  // connections of this server, this one included
  bool counted_ = false;                    // this session holds one count in in_flight_
  std::atomic<bool> answered_{false};       // respond() or stream() was called for this request
  bool writing_ = false;
  bool stream_ended_ = false;
  bool closed_ = false;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io_context, Handler h, ServerLimits l)
      : io(io_context),
        acceptor(io_context),
        handler(std::make_shared<const Handler>(std::move(h))),
        limits(l) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](beast::error_code ec,
                                                                             tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      if (ec) return self->back_off(ec);
      if (self->starved) {
        self->starved = false;
        narration::info(narration::actor::http_server, narration::action::server_overloaded)
            .human("Accepting connections on port {} again", self->acceptor.local_endpoint().port())
            .emit();
      }
      // Frames are small and must leave at once: no Nagle delay on streams.
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (self->open->load() >= static_cast<int>(self->limits.max_connections)) {
        self->refuse(std::move(socket));
      } else {
        self->refusing = false;
        std::make_shared<Session>(std::move(socket), self->handler, self->limits, self->in_flight,
                                  self->open)
            ->start();
      }
      self->accept();
    });
  }

  // accept() failing (out of descriptors, most often) fails again at once: say so once, then
  // try again every 100 ms instead of spinning a core.
  void back_off(beast::error_code ec) {
    if (!starved) {
      starved = true;
      narration::error(narration::actor::http_server, narration::action::server_overloaded)
          .human("Cannot accept connections on port {}: {} ({} open); retrying every 100 ms",
                 acceptor.local_endpoint().port(), ec.message(), open->load())
          .error_kind("ACCEPT_FAILED")
          .emit();
    }
    retry_timer.expires_after(std::chrono::milliseconds(100));
    retry_timer.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && self->acceptor.is_open()) self->accept();
    });
  }

  // Over the connection limit: a short 503 and the connection closed, narrated once per episode.
  void refuse(tcp::socket socket) {
    if (!refusing.exchange(true)) {
      narration::warn(narration::actor::http_server, narration::action::server_overloaded)
          .human("Refusing connections on port {}: {} are open, the limit",
                 acceptor.local_endpoint().port(), limits.max_connections)
          .error_kind("TOO_MANY_CONNECTIONS")
          .emit();
    }
    auto held = std::make_shared<tcp::socket>(std::move(socket));
    static const std::string kAnswer = [] {
      const std::string body =
          R"({"error":{"code":"TOO_MANY_CONNECTIONS","message":"too many open connections; retry shortly"}})";
      return fmt::format(
          "HTTP/1.1 503 Service Unavailable\r\nServer: llorch\r\nContent-Type: application/json\r\n"
          "Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
          body.size(), body);
    }();
    asio::async_write(*held, asio::buffer(kAnswer), [held](beast::error_code, std::size_t) {
      beast::error_code ignored;
      held->shutdown(tcp::socket::shutdown_both, ignored);
      held->close(ignored);
    });
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  std::shared_ptr<const Handler> handler;
  ServerLimits limits;
  std::shared_ptr<std::atomic<int>> in_flight = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> open = std::make_shared<std::atomic<int>>(0);
  asio::steady_timer retry_timer{io};
  bool starved = false;                // accept() is failing; narrated once
  std::atomic<bool> refusing = false;  // the connection limit was reached; narrated once
};

HttpServer::HttpServer(asio::io_context& io, Handler handler, ServerLimits limits)
    : impl_(std::make_shared<Impl>(io, std::move(handler), limits)) {}

HttpServer::~HttpServer() {
  stop_accepting();
}

void HttpServer::listen(const std::string& host, std::uint16_t port) {
  const tcp::endpoint endpoint(asio::ip::make_address(host), port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->accept();
}

std::uint16_t HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

int HttpServer::requests_in_flight() const {
  return impl_->in_flight->load();
}

void HttpServer::when_idle(std::chrono::steady_clock::time_point deadline,
                           std::function<void()> done) {
  if (requests_in_flight() == 0 || std::chrono::steady_clock::now() >= deadline) {
    return asio::post(impl_->io, std::move(done));
  }
  auto timer = std::make_shared<asio::steady_timer>(impl_->io, std::chrono::milliseconds(10));
  timer->async_wait([this, timer, deadline, done = std::move(done)](beast::error_code) mutable {
    when_idle(deadline, std::move(done));
  });
}

void HttpServer::stop_accepting() {
  beast::error_code ignored;
  if (impl_->acceptor.is_open()) impl_->acceptor.close(ignored);
}

}  // namespace llorch::net
