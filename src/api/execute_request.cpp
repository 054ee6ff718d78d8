#include "api/execute_request.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "api/json_input.hpp"
#include "narration/correlation.hpp"

namespace llorch::api {
namespace {

using Json = nlohmann::json;

class Validator {
 public:
  Validator(const Json& body, std::vector<FieldError>& errors) : body_(body), errors_(errors) {}

  const Json* field(const char* name) {
    seen_.insert(name);
    const auto it = body_.find(name);
    return it == body_.end() || it->is_null() ? nullptr : &*it;
  }

  void fail(std::string field, std::string constraint, std::string message) {
    errors_.push_back({std::move(field), std::move(constraint), std::move(message)});
  }

  template <typename T>
  void number(const char* name, T& out, double min, double max, const char* unit_hint) {
    const Json* v = field(name);
    if (v == nullptr) return;
    const bool integral = std::is_integral_v<T>;
    if (!v->is_number() || (integral && !v->is_number_integer())) {
      fail(name, integral ? "type:integer" : "type:number",
           fmt::format("{} must be {}", name, integral ? "an integer" : "a number"));
      return;
    }
    const double value = v->get<double>();
    if (value < min || value > max) {
      fail(name, fmt::format("range:{}..{}", min, max),
           fmt::format("{} must be between {} and {} {}", name, min, max, unit_hint));
      return;
    }
    out = static_cast<T>(integral ? static_cast<double>(v->get<std::int64_t>()) : value);
  }

  void unknown_fields() {
    for (const auto& [key, value] : body_.items()) {
      if (!seen_.contains(key))
        fail(key, "unknown", fmt::format("{} is not a field of /execute; remove it", key));
    }
  }

 private:
  const Json& body_;
  std::vector<FieldError>& errors_;
  std::set<std::string> seen_;
};

void parse_messages(Validator& v, const Json& messages, std::vector<ChatTurn>& out) {
  if (!messages.is_array() || messages.empty() || messages.size() > kMaxMessages) {
    v.fail("messages", fmt::format("type:array,length:1..{}", kMaxMessages),
           fmt::format("messages must be an array of 1 to {} {{role, content}} objects",
                       kMaxMessages));
    return;
  }
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    const std::string name = fmt::format("messages[{}]", i);
    const auto role = m.is_object() ? m.find("role") : m.end();
    const auto content = m.is_object() ? m.find("content") : m.end();
    if (!m.is_object() || m.size() != 2 || role == m.end() || content == m.end()) {
      v.fail(name, "type:object", name + " must be an object with exactly role and content");
      continue;
    }
    if (!role->is_string() || (*role != "system" && *role != "user" && *role != "assistant")) {
      v.fail(name + ".role", "enum:system,user,assistant",
             name + ".role must be system, user or assistant");
    }
    if (!content->is_string()) {
      v.fail(name + ".content", "type:string", name + ".content must be a string");
      continue;
    }
    bytes += content->get_ref<const std::string&>().size();
    if (role->is_string()) out.push_back({role->get<std::string>(), content->get<std::string>()});
  }
  if (bytes > kMaxPromptBytes) {
    v.fail(
        "messages", fmt::format("maxLength:{}", kMaxPromptBytes),
        fmt::format("the messages' contents must be at most {} bytes together", kMaxPromptBytes));
  }
}

}  // namespace

std::variant<ExecuteRequest, std::vector<FieldError>> parse_execute_request(
    std::string_view text, const ExecuteLimits& limits) {
  std::vector<FieldError> errors;
  JsonProblem problem = JsonProblem::none;
  const Json body = parse_untrusted(text, &problem);
  if (body.is_discarded()) {
    errors.push_back(body_error(problem));
    return errors;
  }
  if (!body.is_object()) {
    errors.push_back({"", "type:object", "the body must be a JSON object"});
    return errors;
  }

  ExecuteRequest r;
  Validator v(body, errors);
  if (const Json* id = v.field("job_id")) {
    if (!id->is_string() || !narration::is_valid_correlation_id(id->get<std::string>())) {
      v.fail("job_id", "pattern:^[A-Za-z0-9._:-]{1,64}$",
             "job_id must be 1-64 characters of A-Z a-z 0-9 . _ : -");
    } else {
      r.job_id = id->get<std::string>();
    }
  }
  const Json* prompt = v.field("prompt");
  const Json* messages = v.field("messages");
  if (prompt != nullptr && messages != nullptr) {
    v.fail("messages", "exclusive:prompt", "give either prompt or messages, not both");
  } else if (prompt != nullptr) {
    if (!prompt->is_string()) {
      v.fail("prompt", "type:string", "prompt must be a string");
    } else if (prompt->get_ref<const std::string&>().size() > kMaxPromptBytes) {
      v.fail("prompt", fmt::format("maxLength:{}", kMaxPromptBytes),
             fmt::format("prompt must be at most {} bytes", kMaxPromptBytes));
    } else {
      r.prompt = prompt->get<std::string>();
    }
  } else if (messages != nullptr) {
    parse_messages(v, *messages, r.messages);
  } else {
    v.fail("prompt", "required",
           "prompt is required (a string; \"\" starts from BOS alone), or messages");
  }
  v.number("max_tokens", r.max_tokens, 1, static_cast<double>(limits.context_length),
           "(the model's context length)");
  v.number("temperature", r.temperature, 0, 2, "(0 is greedy)");
  v.number("top_p", r.top_p, 0, 1, "(1 is off)");
  v.number("top_k", r.top_k, 0, static_cast<double>(limits.vocab_size), "(0 is off)");
  v.number("min_p", r.min_p, 0, 1, "(0 is off)");
  v.number("repetition_penalty", r.repetition_penalty, 0.5, 2, "(1 is off)");
  if (const Json* seed = v.field("seed")) {
    if (!seed->is_number_integer() || (seed->is_number_integer() && !seed->is_number_unsigned() &&
                                       seed->get<std::int64_t>() < 0)) {
      v.fail("seed", "type:uint64", "seed must be a non-negative integer");
    } else {
      r.seed = seed->get<std::uint64_t>();
    }
  }
  if (const Json* stop = v.field("stop")) {
    if (!stop->is_array()) {
      v.fail("stop", "type:array", "stop must be an array of strings");
    } else if (stop->size() > kMaxStopStrings) {
      v.fail("stop", fmt::format("maxItems:{}", kMaxStopStrings),
             fmt::format("stop holds at most {} strings", kMaxStopStrings));
    } else {
      for (std::size_t i = 0; i < stop->size(); ++i) {
        const Json& s = (*stop)[i];
        const std::string name = fmt::format("stop[{}]", i);
        if (!s.is_string()) {
          v.fail(name, "type:string", name + " must be a string");
        } else if (s.get_ref<const std::string&>().empty() ||
                   s.get_ref<const std::string&>().size() > kMaxStopBytes) {
          v.fail(name, fmt::format("length:1..{}", kMaxStopBytes),
                 fmt::format("{} must be 1 to {} bytes", name, kMaxStopBytes));
        } else {
          r.stop.push_back(s.get<std::string>());
        }
      }
    }
  }
  if (const Json* ignore = v.field("ignore_eos")) {
    if (!ignore->is_boolean()) {
      v.fail("ignore_eos", "type:boolean", "ignore_eos must be true or false");
    } else {
      r.ignore_eos = ignore->get<bool>();
    }
  }
  if (const Json* logprobs = v.field("logprobs")) {
    if (!logprobs->is_number_integer() || logprobs->get<std::int64_t>() < 0 ||
        logprobs->get<std::int64_t>() > kMaxLogprobs) {
      v.fail("logprobs", fmt::format("range:0..{}", kMaxLogprobs),
             fmt::format("logprobs must be an integer from 0 to {} (the alternatives to list)",
                         kMaxLogprobs));
    } else {
      r.logprobs = static_cast<int>(logprobs->get<std::int64_t>());
    }
  }
  if (const Json* mode = v.field("narration_mode")) {
    const auto parsed =
        mode->is_string() ? narration::parse_mode(mode->get<std::string>()) : std::nullopt;
    if (!parsed) {
      v.fail("narration_mode", "enum:human,cute,story",
             "narration_mode must be one of human, cute, story");
    } else {
      r.narration_mode = *parsed;
    }
  }
  v.unknown_fields();
  if (!errors.empty()) return errors;
  return r;
}

}  // namespace llorch::api
