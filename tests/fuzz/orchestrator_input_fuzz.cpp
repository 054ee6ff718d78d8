// libFuzzer target: any bytes as the body of POST /v2/tasks, of /v1/completions and
// /v1/chat/completions, and of a pool registration and heartbeat. Each parser answers with a
// request or with named problems; none crashes or throws.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "orchestrator/openai_request.hpp"
#include "orchestrator/pool_registry.hpp"
#include "orchestrator/task_request.hpp"

namespace {

void check(const std::vector<llorch::api::FieldError>& errors) {
  for (const auto& e : errors) {
    if (e.message.empty() || e.constraint.empty()) std::abort();
  }
}

}  // namespace

template <typename Parsed>
void check(const Parsed& parsed) {
  if (const auto* errors = std::get_if<std::vector<llorch::api::FieldError>>(&parsed)) {
    if (errors->empty()) std::abort();
    check(*errors);
  }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llorch::orchestrator;
  const std::string text(reinterpret_cast<const char*>(data), size);
  check(parse_task_request(text));
  check(parse_openai_request(text, false));
  check(parse_openai_request(text, true));
  for (const bool need_url : {true, false}) {
    std::vector<llorch::api::FieldError> errors;
    const auto report = parse_pool_report(text, need_url, errors);
    if (report.has_value() == !errors.empty()) std::abort();
    check(errors);
  }
  return 0;
}
