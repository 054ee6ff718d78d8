// HTTP as the rest of llorch sees it: plain request/response values and a streaming response,
// with no Beast or Asio types (those stay inside src/net/*.cpp).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llorch::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;                          // "GET", "POST", …
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

// Produces the frames of a streaming (text/event-stream) response. The server calls pull() and
// on_disconnect() on the connection's strand, never concurrently; wake() may be called from any
// thread after set_wakeup.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Appends every frame ready now to `out`. Returns false once the stream has ended: nothing
  // will follow what was appended, and the server closes the connection after writing it.
  virtual bool pull(std::string& out) = 0;
  // `wake` asks the server to call pull() again soon; the source calls it when frames arrive.
  virtual void set_wakeup(std::function<void()> wake) = 0;
  // The client closed the connection before the stream ended.
  virtual void on_disconnect() = 0;
};

// One request's reply channel, handed to the handler. Thread-safe; answer exactly once.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void respond(HttpResponse response) = 0;
  virtual void stream(Headers headers, std::shared_ptr<FrameSource> source) = 0;
  // For an answer that takes a while (a non-streamed completion): `hung_up` runs once, on the
  // connection's strand, if the client closes the connection before respond() is called.
  virtual void on_hangup(std::function<void()> hung_up) = 0;
};

using Handler = std::function<void(HttpRequest request, std::shared_ptr<Exchange> exchange)>;

}  // namespace llorch::net
