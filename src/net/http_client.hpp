// A small blocking HTTP/1.1 client (Boost.Beast) for calls between llorch processes — the ready
// callback — and for tests: plain requests, and responses read as a stream of body chunks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "net/http_types.hpp"

namespace llorch::net {

struct Url {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";
};

// Accepts "http://host[:port][/path]". Throws std::invalid_argument naming what is wrong.
Url parse_url(const std::string& url);

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::string body;
  std::string content_type = "application/json";
  Headers headers;
  std::chrono::milliseconds timeout{10000};
  // Set (from another thread) to end the call within ~100 ms, as a broken connection would end
  // it (http_call throws operation_aborted): for a peer that went silent without closing.
  const std::atomic<bool>* abandon = nullptr;
};

struct ClientResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // empty when a chunk callback consumed it
};

// Called with the response's status and headers (body still empty) and each piece of the body
// as it arrives; return false to stop reading and close.
using ChunkCallback = std::function<bool(const ClientResponse& head, std::string_view chunk)>;

// Sends the request and reads the response. With `on_chunk` the body is streamed to it; otherwise
// it is collected. Throws std::system_error (connection refused, timeout, …).
ClientResponse http_call(const ClientRequest& request, const ChunkCallback& on_chunk = {});

// Whether `error`, thrown by http_call, is its timeout (nothing arrived for request.timeout).
bool is_timeout(const std::exception& error);

}  // namespace llorch::net
