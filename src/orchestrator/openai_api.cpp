#include "orchestrator/openai_api.hpp"

#include <fmt/format.h>

#include <chrono>
#include <set>

#include "api/execute_request.hpp"
#include "api/http_common.hpp"

namespace llorch::orchestrator {

namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;

std::string dump(const OJson& j) {
  return j.dump(-1, ' ', false, OJson::error_handler_t::replace);
}

// Fields OpenAI defines that llorch honours, or accepts only at the value that changes nothing.
const std::set<std::string> kKnown{"model",
                                   "prompt",
                                   "messages",
                                   "max_tokens",
                                   "max_completion_tokens",
                                   "temperature",
                                   "top_p",
                                   "n",
                                   "stream",
                                   "stream_options",
                                   "stop",
                                   "seed",
                                   "user",
                                   "presence_penalty",
                                   "frequency_penalty",
                                   "logit_bias",
                                   "logprobs",
                                   "echo",
                                   "suffix",
                                   "response_format",
                                   "top_k",
                                   "min_p",
                                   "repetition_penalty",
                                   "llorch"};

bool is_zero_or_null(const Json& v) {
  return v.is_null() || (v.is_number() && v.get<double>() == 0.0) ||
         (v.is_boolean() && !v.get<bool>()) || (v.is_object() && v.empty());
}

std::string finish_reason(const std::string& stop_reason) {
  return stop_reason == "MAX_TOKENS" || stop_reason == "CONTEXT_FULL" ? "length" : "stop";
}

}  // namespace

std::variant<OpenAiRequest, std::vector<api::FieldError>> parse_openai_request(
    std::string_view text, bool chat) {
  std::vector<api::FieldError> errors;
  const Json body = Json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    errors.push_back({"", "json", "the body must be a JSON object"});
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
            if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
                part["text"].is_string()) {
              content += part["text"].get<std::string>();
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
  if (!body.contains("temperature")) execute["temperature"] = 1.0;
  if (!body.contains("top_p")) execute["top_p"] = 1.0;
  if (!body.contains("top_k")) execute["top_k"] = 0;
  if (!body.contains("min_p")) execute["min_p"] = 0.0;
  if (const auto stop = body.find("stop"); stop != body.end() && !stop->is_null()) {
    execute["stop"] = stop->is_string() ? Json::array({*stop}) : *stop;
  }
  if (const auto n = body.find("n"); n != body.end() && !n->is_null() && *n != 1)
    fail("n", "const:1", "llorch generates one choice per request: n must be 1");
  for (const char* name :
       {"presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "echo", "suffix"}) {
    if (const auto v = body.find(name); v != body.end() && !is_zero_or_null(*v))
      fail(name, "unsupported", fmt::format("{} is not supported by llorch; leave it out", name));
  }
  if (const auto f = body.find("response_format");
      f != body.end() && !f->is_null() && !(f->is_object() && f->value("type", "") == "text"))
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
      r.include_usage = o->value("include_usage", false);
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
        } else {
          fail("llorch." + key, "unknown",
               fmt::format("llorch.{} is not understood (narration, narration_mode)", key));
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
      if (e.field == "narration_mode") e.field = "llorch.narration_mode";
      if (e.field != "prompt" && e.field != "messages") errors.push_back(std::move(e));
    }
  }
  if (!errors.empty()) return errors;
  r.spec.request = std::get<api::ExecuteRequest>(std::move(parsed));
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

namespace {

struct Outcome {
  std::string text;
  std::size_t tokens_in = 0;
  std::size_t tokens_out = 0;
  std::string stop_reason;
  std::string error_code;
  std::string error_message;
  OJson narration = OJson::array();
};

Outcome collect(const Task& task) {
  std::vector<TaskFrame> frames;
  task.read(0, frames);
  Outcome o;
  for (const auto& f : frames) {
    const auto data = OJson::parse(f.data, nullptr, false);
    if (!data.is_object()) continue;
    if (f.type == "token") {
      o.text += data.value("t", "");
      ++o.tokens_out;
    } else if (f.type == "metrics") {
      o.tokens_in = data.value("tokens_in", std::size_t{0});
    } else if (f.type == "end") {
      o.stop_reason = data.value("stop_reason", "");
    } else if (f.type == "error") {
      o.error_code = data.value("code", "");
      o.error_message = data.value("message", "");
    } else if (f.type == "narration") {
      o.narration.push_back(data);
    }
  }
  return o;
}

OJson usage(std::size_t in, std::size_t out) {
  return {{"prompt_tokens", in}, {"completion_tokens", out}, {"total_tokens", in + out}};
}

long unix_now() {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
}

unsigned status_for(const std::string& code) {
  return code == "INVALID_REQUEST" || code == "PROMPT_TOO_LONG" ? 400 : 500;
}

}  // namespace

net::HttpResponse openai_response(const Task& task, const OpenAiRequest& request,
                                  const std::string& correlation_id) {
  const Outcome o = collect(task);
  if (!o.error_code.empty()) {
    return openai_error(status_for(o.error_code),
                        status_for(o.error_code) == 400 ? "invalid_request_error" : "server_error",
                        o.error_code, o.error_message, correlation_id);
  }
  OJson choice{{"index", 0}};
  if (request.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", o.text}};
  } else {
    choice["text"] = o.text;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason(o.stop_reason);
  OJson body{{"id", (request.chat ? "chatcmpl-" : "cmpl-") + task.id()},
             {"object", request.chat ? "chat.completion" : "text_completion"},
             {"created", unix_now()},
             {"model", request.model},
             {"choices", OJson::array({choice})},
             {"usage", usage(o.tokens_in, o.tokens_out)}};
  if (request.narration) body["llorch"] = {{"narration", o.narration}};
  return {200, "application/json", dump(body), {}};
}

OpenAiStream::OpenAiStream(std::shared_ptr<Task> task, OpenAiRequest request, Scheduler& scheduler,
                           OrchestratorMetrics& metrics)
    : task_(std::move(task)),
      request_(std::move(request)),
      scheduler_(scheduler),
      metrics_(metrics),
      created_(unix_now()) {}

OpenAiStream::~OpenAiStream() {
  leave();
}

bool OpenAiStream::pull(std::string& out) {
  const bool ended = task_->ended();
  std::vector<TaskFrame> frames;
  task_->read(next_, frames);
  next_ += frames.size();
  const auto now = Clock::now();
  const auto chunk = [&](OJson choices) {
    OJson c{{"id", (request_.chat ? "chatcmpl-" : "cmpl-") + task_->id()},
            {"object", request_.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created_},
            {"model", request_.model},
            {"choices", std::move(choices)}};
    if (request_.include_usage) c["usage"] = nullptr;
    return c;
  };
  const auto send = [&](const OJson& j) { out += "data: " + dump(j) + "\n\n"; };
  const auto choice = [&](const std::string& text, const OJson& finish) {
    OJson c{{"index", 0}};
    if (request_.chat) {
      OJson delta = OJson::object();
      if (!sent_role_) delta["role"] = "assistant";
      if (!text.empty() || finish.is_null()) delta["content"] = text;
      sent_role_ = true;
      c["delta"] = std::move(delta);
    } else {
      c["text"] = text;
    }
    c["logprobs"] = nullptr;
    c["finish_reason"] = finish;
    return OJson::array({c});
  };
  for (const auto& f : frames) {
    metrics_.observe_relay_lag(std::chrono::duration<double>(now - f.at).count());
    const auto data = OJson::parse(f.data, nullptr, false);
    if (!data.is_object()) continue;
    if (f.type == "token") {
      ++tokens_out_;
      send(chunk(choice(data.value("t", ""), nullptr)));
    } else if (f.type == "metrics") {
      tokens_in_ = data.value("tokens_in", std::size_t{0});
    } else if (f.type == "narration" && request_.narration) {
      OJson c = chunk(OJson::array());
      c["llorch"] = {{"narration", data}};
      send(c);
    } else if (f.type == "end") {
      send(chunk(choice("", finish_reason(data.value("stop_reason", "")))));
      if (request_.include_usage) {
        OJson c = chunk(OJson::array());
        c["usage"] = usage(tokens_in_, tokens_out_);
        send(c);
      }
      out += "data: [DONE]\n\n";
    } else if (f.type == "error") {
      // OpenAI's streams carry errors as a data frame with an error object.
      const std::string code = data.value("code", "");
      send({{"error",
             {{"message", data.value("message", "")},
              {"type", status_for(code) == 400 ? "invalid_request_error" : "server_error"},
              {"param", nullptr},
              {"code", code},
              {"correlation_id", task_->correlation_id()}}}});
      out += "data: [DONE]\n\n";
    }
  }
  return !ended;
}

void OpenAiStream::set_wakeup(std::function<void()> wake) {
  leave();
  if (wake) key_ = task_->subscribe(std::move(wake));
}

void OpenAiStream::on_disconnect() {
  leave();
  scheduler_.reader_left(task_);
}

void OpenAiStream::leave() {
  if (key_ != 0) task_->unsubscribe(key_);
  key_ = 0;
}

}  // namespace llorch::orchestrator
