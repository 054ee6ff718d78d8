// What every llorch HTTP endpoint does the same way: the request's correlation id, JSON error
// answers, and the checks for method and content type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.hpp"
#include "net/http_types.hpp"

namespace llorch::api {

// X-Correlation-Id when valid, else the traceparent's trace id, else a new id.
std::string correlation_of(const net::HttpRequest& request);

// An error answer with the standard body.
net::HttpResponse error_response(unsigned status, std::string_view code, std::string_view message,
                                 const std::string& correlation_id,
                                 const std::vector<FieldError>& details = {});

// 415 for a body that is not declared as JSON; nullopt when it is.
std::optional<net::HttpResponse> unless_json(const net::HttpRequest& request,
                                             const std::string& correlation_id);

// 405 with Allow when the request's method is not `methods` (one, or a list like "GET, POST");
// nullopt when it is.
std::optional<net::HttpResponse> unless_method(const net::HttpRequest& request,
                                               std::string_view method,
                                               const std::string& correlation_id);

// A 400 for field errors: MALFORMED_JSON when the body did not parse, else INVALID_REQUEST whose
// message names every failing field.
net::HttpResponse invalid_fields(const std::vector<FieldError>& errors,
                                 const std::string& correlation_id);

// The token of an "Authorization: Bearer <token>" header ("" when there is none); the scheme is
// matched case-insensitively, as HTTP says.
std::string bearer_token(std::string_view authorization);
// Whether `given` equals `expected` (never when `expected` is empty), in time that does not
// depend on where they differ, nor on whether their lengths do.
bool same_secret(std::string_view given, std::string_view expected);

// A server's own secret check: true when `expected` is empty (no secret configured) or the
// request's bearer token equals it.
bool bearer_matches(const net::HttpRequest& request, std::string_view expected);

// 401 UNAUTHORIZED with WWW-Authenticate: Bearer, narrated (access_denied) naming the endpoint.
net::HttpResponse unauthorized(const net::HttpRequest& request, std::string_view what,
                               const std::string& correlation_id);

// "prompt, stop[2]" — the failing fields, for a message or a narration line.
std::string field_list(const std::vector<FieldError>& errors);

}  // namespace llorch::api
