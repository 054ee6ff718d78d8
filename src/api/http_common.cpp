#include "api/http_common.hpp"

#include <fmt/format.h>

#include "narration/correlation.hpp"

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
                                               std::string_view method,
                                               const std::string& correlation_id) {
  if (request.method == method) return std::nullopt;
  net::HttpResponse r =
      error_response(405, "METHOD_NOT_ALLOWED",
                     fmt::format("{} takes {} only", request.path(), method), correlation_id);
  r.headers.emplace_back("Allow", std::string(method));
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
  return authorization.rfind("Bearer ", 0) == 0 ? std::string(authorization.substr(7)) : "";
}

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace llorch::api
