#include "net/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

namespace llorch::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Url parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw std::invalid_argument("URL " + url + " must start with http://");
  const std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  Url u;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  u.host = authority.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    char* end = nullptr;
    const long value = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || value < 1 || value > 65535) {
      throw std::invalid_argument("URL " + url + " has an invalid port");
    }
    u.port = static_cast<std::uint16_t>(value);
  }
  if (u.host.empty()) throw std::invalid_argument("URL " + url + " has no host");
  return u;
}

namespace {

// Runs one asynchronous operation to its end. The synchronous Beast calls ignore tcp_stream's
// expiry, so every step is asynchronous: expires_after then bounds it (beast::error::timeout).
// The error without Boost's source location, which would only clutter a message for people.
[[noreturn]] void fail(beast::error_code ec) {
  throw beast::system_error(beast::error_code(ec.value(), ec.category()));
}

template <typename Start>
beast::error_code run_one(asio::io_context& io, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

// run_one, checking `abandon` every 100 ms: when it is set, the stream's pending operation is
// cancelled and operation_aborted returned.
template <typename Start>
beast::error_code run_one(asio::io_context& io, beast::tcp_stream& stream,
                          const std::atomic<bool>* abandon, Start start) {
  if (abandon == nullptr) return run_one(io, std::move(start));
  beast::error_code result;
  bool done = false;
  start([&result, &done](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  io.restart();
  while (!done) {
    io.run_for(std::chrono::milliseconds(100));
    if (done || !abandon->load()) continue;
    stream.cancel();
    io.restart();
    io.run();  // the handler, with operation_aborted
    return asio::error::operation_aborted;
  }
  return result;
}

}  // namespace

ClientResponse http_call(const ClientRequest& request, const ChunkCallback& on_chunk) {
  const Url url = parse_url(request.url);
  asio::io_context io;
  beast::tcp_stream stream(io);
  tcp::resolver resolver(io);
  stream.expires_after(request.timeout);
  boost::system::error_code not_numeric;
  const auto address = asio::ip::make_address(url.host, not_numeric);
  beast::error_code connect_error;
  if (!not_numeric) {
    // No resolver round trip for an IP.
    connect_error = run_one(io, stream, request.abandon, [&](auto handler) {
      stream.async_connect(tcp::endpoint(address, url.port), std::move(handler));
    });
  } else {
    const auto endpoints = resolver.resolve(url.host, std::to_string(url.port));
    connect_error = run_one(io, stream, request.abandon, [&](auto handler) {
      stream.async_connect(endpoints, std::move(handler));
    });
  }
  if (connect_error) fail(connect_error);

  http::request<http::string_body> message(http::string_to_verb(request.method), url.target, 11);
  message.set(http::field::host, url.host);
  message.set(http::field::user_agent, "llorch");
  for (const auto& [name, value] : request.headers) message.set(name, value);
  if (!request.body.empty() || request.method == "POST") {
    message.set(http::field::content_type, request.content_type);
    message.body() = request.body;
  }
  message.prepare_payload();
  // A server may answer before reading the whole body (413) and stop reading: then the write
  // fails, but its answer is still there to read.
  const beast::error_code write_error = run_one(io, stream, request.abandon, [&](auto handler) {
    http::async_write(stream, message, std::move(handler));
  });

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  stream.expires_after(request.timeout);
  const beast::error_code read_error = run_one(io, stream, request.abandon, [&](auto handler) {
    http::async_read_header(stream, buffer, parser, std::move(handler));
  });
  if (read_error) fail(write_error ? write_error : read_error);

  ClientResponse response;
  response.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.headers[name] = std::string(field.value());
  }
  char chunk[8192];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    stream.expires_after(request.timeout);
    // Whatever has arrived: streams must not wait for a full buffer.
    beast::error_code ec = run_one(io, stream, request.abandon, [&](auto handler) {
      http::async_read_some(stream, buffer, parser, std::move(handler));
    });
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) break;
    if (ec) fail(ec);
    const std::size_t got = sizeof chunk - parser.get().body().size;
    if (got == 0) continue;
    if (on_chunk) {
      if (!on_chunk(response, std::string_view(chunk, got))) break;
    } else {
      response.body.append(chunk, got);
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return response;
}

bool is_timeout(const std::exception& error) {
  const auto* system = dynamic_cast<const beast::system_error*>(&error);
  return system != nullptr && system->code() == beast::error::timeout;
}

}  // namespace llorch::net
