#include "api/errors.hpp"

#include <nlohmann/json.hpp>

namespace llorch::api {

std::string error_body(std::string_view code, std::string_view message,
                       const std::vector<FieldError>& details, std::string_view correlation_id) {
  nlohmann::ordered_json error{{"code", code}, {"message", message}};
  if (!details.empty()) {
    auto& list = error["details"] = nlohmann::ordered_json::array();
    for (const FieldError& d : details) {
      list.push_back({{"field", d.field}, {"constraint", d.constraint}, {"message", d.message}});
    }
  }
  error["correlation_id"] = correlation_id;
  return nlohmann::ordered_json{{"error", std::move(error)}}.dump(
      -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace llorch::api
