#include "orchestrator/openai_api.hpp"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "api/json_input.hpp"

namespace llorch::orchestrator {

namespace {

using OJson = nlohmann::ordered_json;

std::string dump(const OJson& j) {
  return j.dump(-1, ' ', false, OJson::error_handler_t::replace);
}

std::string finish_reason(const std::string& stop_reason) {
  return stop_reason == "MAX_TOKENS" || stop_reason == "CONTEXT_FULL" ? "length" : "stop";
}

// A piece's text from the byte list a worker's token frame carries (invalid UTF-8 is replaced
// when the answer is written).
std::string text_of_bytes(const OJson& bytes) {
  std::string out;
  if (!bytes.is_array()) return out;
  for (const auto& b : bytes)
    if (b.is_number_unsigned() && b.get<unsigned>() < 256)
      out += static_cast<char>(b.get<unsigned>());
  return out;
}

float logprob_of(const OJson& j) {
  const auto it = j.find("logprob");
  return it != j.end() && it->is_number() ? it->get<float>() : 0.0f;
}

// Chat: one entry of logprobs.content — {token, logprob, bytes, top_logprobs: [{token, logprob,
// bytes}]}.
OJson chat_logprob(const OJson& frame) {
  OJson top = OJson::array();
  if (const auto t = frame.find("top_logprobs"); t != frame.end() && t->is_array()) {
    for (const auto& a : *t) {
      const OJson bytes = a.value("bytes", OJson::array());
      top.push_back(
          {{"token", text_of_bytes(bytes)}, {"logprob", logprob_of(a)}, {"bytes", bytes}});
    }
  }
  const OJson bytes = frame.value("bytes", OJson::array());
  return {{"token", text_of_bytes(bytes)},
          {"logprob", logprob_of(frame)},
          {"bytes", bytes},
          {"top_logprobs", std::move(top)}};
}

// Completions: logprobs.{tokens, token_logprobs, top_logprobs, text_offset} for these frames.
OJson completion_logprobs(const std::vector<OJson>& frames, std::size_t offset) {
  OJson out{{"tokens", OJson::array()},
            {"token_logprobs", OJson::array()},
            {"top_logprobs", OJson::array()},
            {"text_offset", OJson::array()}};
  for (const auto& f : frames) {
    const std::string token = text_of_bytes(f.value("bytes", OJson::array()));
    OJson top = OJson::object();
    if (const auto t = f.find("top_logprobs"); t != f.end() && t->is_array()) {
      for (const auto& a : *t) top[text_of_bytes(a.value("bytes", OJson::array()))] = logprob_of(a);
    }
    out["tokens"].push_back(token);
    out["token_logprobs"].push_back(logprob_of(f));
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset);
    offset += api::string_or(f, "t").size();
  }
  return out;
}

}  // namespace

namespace {

struct Outcome {
  std::string text;
  std::size_t tokens_in = 0;
  std::size_t tokens_out = 0;
  std::string stop_reason;
  std::string error_code;
  std::string error_message;
  OJson narration = OJson::array();
  std::vector<OJson> tokens;  // the token frames, for logprobs
};

Outcome collect(const Task& task) {
  std::vector<TaskFrame> frames;
  task.read(0, frames);
  Outcome o;
  for (const auto& f : frames) {
    const auto data = api::parse_untrusted<OJson>(f.data);
    if (!data.is_object()) continue;
    if (f.type == "token") {
      o.text += api::string_or(data, "t");
      ++o.tokens_out;
      if (data.contains("logprob")) o.tokens.push_back(data);
    } else if (f.type == "metrics") {
      o.tokens_in = api::count_or(data, "tokens_in");
    } else if (f.type == "end") {
      o.stop_reason = api::string_or(data, "stop_reason");
    } else if (f.type == "error") {
      o.error_code = api::string_or(data, "code", "WORKER_ERROR");
      o.error_message = api::string_or(data, "message", "the worker reported an error");
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
  if (request.logprobs && request.chat) {
    OJson content = OJson::array();
    for (const auto& t : o.tokens) content.push_back(chat_logprob(t));
    choice["logprobs"] = {{"content", std::move(content)}};
  } else if (request.logprobs) {
    choice["logprobs"] = completion_logprobs(o.tokens, 0);
  }
  choice["finish_reason"] = finish_reason(o.stop_reason);
  OJson body{{"id", task.id()},  // "chatcmpl-…" or "cmpl-…" already
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
    : TaskReader(std::move(task), 0, scheduler, metrics),
      request_(std::move(request)),
      created_(unix_now()) {}

OJson OpenAiStream::chunk(OJson choices) const {
  OJson c{{"id", task().id()},
          {"object", request_.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created_},
          {"model", request_.model},
          {"choices", std::move(choices)}};
  if (request_.include_usage) c["usage"] = nullptr;
  return c;
}

OJson OpenAiStream::choice(const std::string& text, const OJson& finish, OJson logprobs) {
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
  c["logprobs"] = std::move(logprobs);
  c["finish_reason"] = finish;
  return OJson::array({c});
}

void OpenAiStream::write(std::size_t, const TaskFrame& f, std::string& out) {
  const auto send = [&](const OJson& j) { out += "data: " + dump(j) + "\n\n"; };
  const auto data = api::parse_untrusted<OJson>(f.data);
  if (!data.is_object()) return;
  if (f.type == "token") {
    ++tokens_out_;
    const std::string text = api::string_or(data, "t");
    OJson logprobs = nullptr;
    if (request_.logprobs && data.contains("logprob")) {
      logprobs = request_.chat ? OJson{{"content", OJson::array({chat_logprob(data)})}}
                               : completion_logprobs({data}, text_offset_);
    }
    text_offset_ += text.size();
    send(chunk(choice(text, nullptr, std::move(logprobs))));
  } else if (f.type == "metrics") {
    tokens_in_ = api::count_or(data, "tokens_in");
  } else if (f.type == "narration" && request_.narration) {
    OJson c = chunk(OJson::array());
    c["llorch"] = {{"narration", data}};
    send(c);
  } else if (f.type == "end") {
    send(chunk(choice("", finish_reason(api::string_or(data, "stop_reason")))));
    if (request_.include_usage) {
      OJson c = chunk(OJson::array());
      c["usage"] = usage(tokens_in_, tokens_out_);
      send(c);
    }
    out += "data: [DONE]\n\n";
  } else if (f.type == "error") {
    // OpenAI's streams carry errors as a data frame with an error object.
    const std::string code = api::string_or(data, "code", "WORKER_ERROR");
    send({{"error",
           {{"message", api::string_or(data, "message", "the worker reported an error")},
            {"type", status_for(code) == 400 ? "invalid_request_error" : "server_error"},
            {"param", nullptr},
            {"code", code},
            {"correlation_id", task().correlation_id()}}}});
    out += "data: [DONE]\n\n";
  }
}

}  // namespace llorch::orchestrator
