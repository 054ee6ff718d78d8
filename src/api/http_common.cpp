#include "api/http_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "narration/correlation.hpp"
#include "narration/narrate.hpp"

namespace llorch::api {

namespace n = llorch::narration;

std::string correlation_of(const net::HttpRequest& request) {
  const std::string given = request.header("x-correlation-id");
  if (given.empty()) {
    if (const auto trace = n::parse_traceparent(request.header("traceparent")))
      return trace->trace_id;
  }
  return n::resolve_correlation_id(given.empty() ? std::nullopt
                                                 : std::optional<std::string_view>(given))
      .value;
}

net::HttpResponse error_response(unsigned status, std::string_view code, std::string_view message,
                                 const std::string& correlation_id,
                                 const std::vector<FieldError>& details) {
  return {status, "application/json", error_body(code, message, details, correlation_id), {}};
}

std::optional<net::HttpResponse> unless_json(const net::HttpRequest& request,
                                             const std::string& correlation_id) {
  const std::string content_type = request.header("content-type");
  std::string type;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c != ' ') type += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (type == "application/json") return std::nullopt;
  return error_response(415, "UNSUPPORTED_MEDIA_TYPE",
                        "send the request as Content-Type: application/json", correlation_id);
}

std::optional<net::HttpResponse> unless_method(const net::HttpRequest& request,
                                               std::string_view methods,
                                               const std::string& correlation_id) {
  for (std::string_view rest = methods; !rest.empty();) {
    const auto comma = rest.find(", ");
    if (rest.substr(0, comma) == request.method) return std::nullopt;
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 2);
  }
  net::HttpResponse r =
      error_response(405, "METHOD_NOT_ALLOWED",
                     fmt::format("{} takes {} only", request.path(), methods), correlation_id);
  r.headers.emplace_back("Allow", std::string(methods));
  return r;
}

std::string field_list(const std::vector<FieldError>& errors) {
  std::string fields;
  for (const auto& e : errors)
    fields += (fields.empty() ? "" : ", ") + (e.field.empty() ? std::string("body") : e.field);
  return fields;
}

net::HttpResponse invalid_fields(const std::vector<FieldError>& errors,
                                 const std::string& correlation_id) {
  const bool malformed = errors.size() == 1 && errors[0].constraint == "json";
  if (malformed)
    return error_response(400, "MALFORMED_JSON", "the body is not valid JSON", correlation_id,
                          errors);
  return error_response(400, "INVALID_REQUEST",
                        fmt::format("{} invalid field{}: {}", errors.size(),
                                    errors.size() == 1 ? "" : "s", field_list(errors)),
                        correlation_id, errors);
}

std::string bearer_token(std::string_view authorization) {
  // RFC 9110: the scheme is case-insensitive; one or more spaces separate it from the token.
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return "";
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return "";
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ') return "";
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  return std::string(rest);
}

bool same_secret(std::string_view given, std::string_view expected) {
  // Constant time in the secret's content and length: every byte of the longer one is looked at,
  // and a length difference is one more difference, not an early return.
  const std::size_t n = std::max(given.size(), expected.size());
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    const unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    diff = static_cast<unsigned char>(diff | (a ^ b));
  }
  return diff == 0 && !expected.empty();
}

bool bearer_matches(const net::HttpRequest& request, std::string_view expected) {
  return expected.empty() || same_secret(bearer_token(request.header("authorization")), expected);
}

net::HttpResponse unauthorized(const net::HttpRequest& request, std::string_view what,
                               const std::string& correlation_id) {
  n::warn(n::actor::http_server, n::action::access_denied)
      .target(request.path())
      .human("Refused {} {}: {}", request.method, request.path(), what)
      .error_kind("UNAUTHORIZED")
      .emit();
  net::HttpResponse r = error_response(401, "UNAUTHORIZED", what, correlation_id);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace llorch::api
