#include "orchestrator/openai_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "api/execute_request.hpp"
#include "api/json_input.hpp"

namespace llorch::orchestrator {

namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;

std::string dump(const OJson& j) {
  return j.dump(-1, ' ', false, OJson::error_handler_t::replace);
}

// Fields OpenAI defines that llorch honours, or accepts only at the value that changes nothing.
const std::set<std::string> kKnown{
    "model", "prompt", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
    "n", "stream", "stream_options", "stop", "seed", "user", "presence_penalty",
    "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "echo", "suffix",
    "response_format", "top_k", "min_p", "repetition_penalty", "llorch",
    // OpenAI's, with nothing for llorch to do: accepted, ignored.
    "store", "metadata", "parallel_tool_calls", "service_tier",
    // llama.cpp's and Ollama's: repeat_penalty is honoured (as
    // repetition_penalty), prompt caching is always on.
    "repeat_penalty", "cache_prompt", "keep_alive"};

bool is_zero_or_null(const Json& v) {
  return v.is_null() || (v.is_number() && v.get<double>() == 0.0) ||
         (v.is_boolean() && !v.get<bool>()) || (v.is_object() && v.empty());
}

}  // namespace

std::variant<OpenAiRequest, std::vector<api::FieldError>> parse_openai_request(
    std::string_view text, bool chat) {
  std::vector<api::FieldError> errors;
  api::JsonProblem problem = api::JsonProblem::none;
  const Json body = api::parse_untrusted(text, &problem);
  if (body.is_discarded()) {
    errors.push_back(api::body_error(problem));
    return errors;
  }
  if (!body.is_object()) {
    errors.push_back({"", "type:object", "the body must be a JSON object"});
    return errors;
  }
  const auto fail = [&](std::string field, std::string constraint, std::string message) {
    errors.push_back({std::move(field), std::move(constraint), std::move(message)});
  };
  OpenAiRequest r;
  r.chat = chat;
  // Translated into the worker's request, whose validation then judges the shared fields.
  Json execute = Json::object();
  for (const auto& [key, value] : body.items()) {
    if (!kKnown.contains(key)) {
      fail(key, "unknown", fmt::format("{} is not a field llorch supports; remove it", key));
    }
  }
  if (const auto m = body.find("model"); m == body.end() || !m->is_string() || m->empty()) {
    fail("model", "required", "model is required: one of the ids GET /v1/models lists");
  } else {
    r.model = m->get<std::string>();
  }
  if (chat) {
    if (body.contains("prompt"))
      fail("prompt", "unknown", "chat requests take messages, not prompt");
    const auto messages = body.find("messages");
    if (messages == body.end() || !messages->is_array() || messages->empty()) {
      fail("messages", "required", "messages must be a non-empty array of {role, content}");
    } else {
      Json turns = Json::array();
      for (std::size_t i = 0; i < messages->size(); ++i) {
        const Json& m = (*messages)[i];
        const std::string name = fmt::format("messages[{}]", i);
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
          fail(name + ".role", "required", name + " needs a role");
          continue;
        }
        std::string role = m["role"];
        if (role == "developer") role = "system";
        if (role != "system" && role != "user" && role != "assistant") {
          fail(name + ".role", "enum:system,developer,user,assistant",
               fmt::format("{}.role \"{}\" is not supported (system, developer, user, assistant)",
                           name, role));
          continue;
        }
        // Content is a string, or an array of parts of which llorch reads the text ones.
        std::string content;
        const auto c = m.find("content");
        if (c != m.end() && c->is_string()) {
          content = c->get<std::string>();
        } else if (c != m.end() && c->is_array()) {
          for (const auto& part : *c) {
            if (api::string_or(part, "type") == "text" && part.contains("text") &&
                part["text"].is_string()) {
              content += part["text"].get_ref<const std::string&>();
            } else {
              fail(name + ".content", "type:text", name + ".content parts must be text parts");
              break;
            }
          }
        } else if (!(role == "assistant" && c != m.end() && c->is_null())) {
          fail(name + ".content", "type:string", name + ".content must be a string");
          continue;
        }
        turns.push_back({{"role", role}, {"content", content}});
      }
      execute["messages"] = std::move(turns);
    }
  } else {
    if (body.contains("messages"))
      fail("messages", "unknown", "completions take prompt; use /v1/chat/completions for messages");
    const auto prompt = body.find("prompt");
    if (prompt == body.end() || prompt->is_null()) {
      fail("prompt", "required", "prompt is required (a string)");
    } else if (prompt->is_string()) {
      execute["prompt"] = *prompt;
    } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
      execute["prompt"] = (*prompt)[0];
    } else {
      fail("prompt", "type:string", "prompt must be a string (or an array of exactly one)");
    }
  }
  const auto max_tokens = body.find(
      chat && body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens");
  execute["max_tokens"] =
      max_tokens != body.end() && !max_tokens->is_null() ? *max_tokens : Json(chat ? 256 : 16);
  for (const char* name :
       {"temperature", "top_p", "seed", "top_k", "min_p", "repetition_penalty"}) {
    if (const auto v = body.find(name); v != body.end() && !v->is_null()) execute[name] = *v;
  }
  if (const auto v = body.find("repeat_penalty");
      v != body.end() && !v->is_null() && !body.contains("repetition_penalty"))
    execute["repetition_penalty"] = *v;
  for (const char* name : {"store", "metadata", "parallel_tool_calls", "service_tier",
                           "cache_prompt", "keep_alive", "user"}) {
    if (body.contains(name)) r.ignored.emplace_back(name);
  }
  if (!body.contains("temperature")) execute["temperature"] = 1.0;
  if (!body.contains("top_p")) execute["top_p"] = 1.0;
  if (!body.contains("top_k")) execute["top_k"] = 0;
  if (!body.contains("min_p")) execute["min_p"] = 0.0;
  if (const auto stop = body.find("stop"); stop != body.end() && !stop->is_null()) {
    execute["stop"] = stop->is_string() ? Json::array({*stop}) : *stop;
  }
  if (const auto n = body.find("n"); n != body.end() && !n->is_null() && *n != 1)
    fail("n", "const:1", "llorch generates one choice per request: n must be 1");
  // Log-probabilities: chat asks with logprobs: true and top_logprobs: N; completions with
  // logprobs: N (the alternatives to list, 0 for the chosen token's alone).
  if (const auto lp = body.find("logprobs"); lp != body.end() && !lp->is_null()) {
    if (chat) {
      const auto top = body.find("top_logprobs");
      if (!lp->is_boolean()) {
        fail("logprobs", "type:boolean", "logprobs must be true or false");
      } else if (lp->get<bool>()) {
        r.logprobs = true;
        execute["logprobs"] = top != body.end() && !top->is_null() ? *top : Json(0);
      } else if (top != body.end() && !top->is_null()) {
        fail("top_logprobs", "requires:logprobs", "top_logprobs needs logprobs: true");
      }
    } else if (!lp->is_number_integer()) {
      fail("logprobs", "type:integer", "logprobs must be an integer from 0 to 20");
    } else {
      r.logprobs = true;
      execute["logprobs"] = *lp;
    }
  } else if (const auto top = body.find("top_logprobs"); top != body.end() && !top->is_null()) {
    fail("top_logprobs", "requires:logprobs", "top_logprobs needs logprobs: true");
  }
  for (const char* name :
       {"presence_penalty", "frequency_penalty", "logit_bias", "echo", "suffix"}) {
    if (const auto v = body.find(name); v != body.end() && !is_zero_or_null(*v))
      fail(name, "unsupported", fmt::format("{} is not supported by llorch; leave it out", name));
  }
  if (const auto f = body.find("response_format");
      f != body.end() && !f->is_null() && api::string_or(*f, "type") != "text")
    fail("response_format", "unsupported", "only {\"type\": \"text\"} is supported");
  if (const auto s = body.find("stream"); s != body.end() && !s->is_null()) {
    if (!s->is_boolean())
      fail("stream", "type:boolean", "stream must be true or false");
    else
      r.stream = s->get<bool>();
  }
  if (const auto o = body.find("stream_options"); o != body.end() && !o->is_null()) {
    if (!o->is_object() || (o->contains("include_usage") && !(*o)["include_usage"].is_boolean()))
      fail("stream_options", "type:object", "stream_options must be {\"include_usage\": bool}");
    else
      r.include_usage = o->contains("include_usage") && (*o)["include_usage"].get<bool>();
  }
  if (const auto v = body.find("llorch"); v != body.end() && !v->is_null()) {
    if (!v->is_object()) {
      fail("llorch", "type:object", "llorch must be {\"narration\": bool, \"narration_mode\": …}");
    } else {
      for (const auto& [key, value] : v->items()) {
        if (key == "narration" && value.is_boolean()) {
          r.narration = value.get<bool>();
        } else if (key == "narration_mode") {
          execute["narration_mode"] = value;
        } else if (key == "ignore_eos") {
          execute["ignore_eos"] = value;  // for benchmarks and long tests, as on /v2/tasks
        } else {
          fail("llorch." + key, "unknown",
               fmt::format("llorch.{} is not understood (narration, narration_mode, ignore_eos)",
                           key));
        }
      }
    }
  }
  // The shared fields (ranges, stop strings, narration_mode) are judged by the worker's rules.
  auto parsed = api::parse_execute_request(execute.dump(), {131072, 262144});
  if (auto* more = std::get_if<std::vector<api::FieldError>>(&parsed)) {
    for (auto& e : *more) {
      if (e.field == "max_tokens" && chat && body.contains("max_completion_tokens"))
        e.field = "max_completion_tokens";
      if (e.field == "logprobs" && chat) e.field = "top_logprobs";
      if (e.field == "narration_mode" || e.field == "ignore_eos") e.field = "llorch." + e.field;
      // prompt and messages were judged above for their shape; the worker's rules add their
      // limits (count, bytes), unless that field has an error already.
      const bool said = std::any_of(errors.begin(), errors.end(), [&](const api::FieldError& x) {
        return x.field == e.field || x.field.rfind(e.field + "[", 0) == 0 ||
               x.field.rfind(e.field + ".", 0) == 0;
      });
      if (!said) errors.push_back(std::move(e));
    }
  }
  auto* request = std::get_if<api::ExecuteRequest>(&parsed);
  if (!errors.empty() || request == nullptr) return errors;
  r.spec.request = std::move(*request);
  r.spec.model = r.model;
  r.spec.cancel_on_disconnect = true;
  return r;
}

net::HttpResponse openai_error(unsigned status, std::string_view type, std::string_view code,
                               std::string_view message, const std::string& correlation_id,
                               const std::vector<api::FieldError>& details) {
  OJson error{{"message", message},
              {"type", type},
              {"param", details.empty() ? OJson(nullptr) : OJson(details.front().field)},
              {"code", code},
              {"correlation_id", correlation_id}};
  if (!details.empty()) {
    OJson list = OJson::array();
    for (const auto& d : details)
      list.push_back({{"field", d.field}, {"constraint", d.constraint}, {"message", d.message}});
    error["details"] = std::move(list);
  }
  return {status, "application/json", dump({{"error", error}}), {}};
}

}  // namespace llorch::orchestrator
