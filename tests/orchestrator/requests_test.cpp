// What clients send the orchestrator, parsed: task bodies, OpenAI requests mapped onto the
// worker's request, pool reports; and the registry's choice of worker.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "orchestrator/openai_request.hpp"
#include "orchestrator/pool_registry.hpp"
#include "orchestrator/task_request.hpp"

namespace llorch::orchestrator {
namespace {

using nlohmann::json;

template <typename T>
std::set<std::string> failing_fields(const std::variant<T, std::vector<api::FieldError>>& parsed) {
  std::set<std::string> fields;
  if (const auto* errors = std::get_if<std::vector<api::FieldError>>(&parsed))
    for (const auto& e : *errors) fields.insert(e.field);
  return fields;
}

TEST(TaskRequest, TakesTheWorkersFieldsPlusModelAndOnDisconnect) {
  const auto parsed = parse_task_request(
      R"({"prompt":"Hi","max_tokens":9,"seed":4,"model":"stories260K","on_disconnect":"continue"})");
  ASSERT_TRUE(std::holds_alternative<TaskSpec>(parsed));
  const auto& spec = std::get<TaskSpec>(parsed);
  EXPECT_EQ(spec.request.prompt, "Hi");
  EXPECT_EQ(spec.request.max_tokens, 9u);
  EXPECT_EQ(spec.request.seed, 4u);
  EXPECT_EQ(spec.model, "stories260K");
  EXPECT_FALSE(spec.cancel_on_disconnect);
  EXPECT_TRUE(std::get<TaskSpec>(parse_task_request(R"({"prompt":""})")).cancel_on_disconnect);
}

TEST(TaskRequest, NamesEveryFailingField) {
  EXPECT_EQ(
      failing_fields(parse_task_request(
          R"({"max_tokens":-1,"top_p":3,"model":5,"on_disconnect":"later","x":1})")),
      (std::set<std::string>{"prompt", "max_tokens", "top_p", "model", "on_disconnect", "x"}));
  EXPECT_EQ(failing_fields(parse_task_request("[1]")), std::set<std::string>{""});
  EXPECT_EQ(failing_fields(parse_task_request("{")), std::set<std::string>{""});
  EXPECT_EQ(failing_fields(
                parse_task_request(R"({"prompt":"a","messages":[{"role":"user","content":"b"}]})")),
            std::set<std::string>{"messages"});
}

TEST(OpenAiRequest, ChatMapsOntoTheWorkersRequest) {
  const auto parsed = parse_openai_request(R"({
      "model": "m", "max_completion_tokens": 7, "stop": "END", "stream": true,
      "stream_options": {"include_usage": true}, "llorch": {"narration": true, "narration_mode": "cute"},
      "messages": [{"role": "developer", "content": "Be brief."},
                   {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]}]})",
                                           true);
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(parsed)) << *failing_fields(parsed).begin();
  const auto& r = std::get<OpenAiRequest>(parsed);
  EXPECT_TRUE(r.chat && r.stream && r.include_usage && r.narration);
  EXPECT_EQ(r.spec.model, "m");
  EXPECT_EQ(r.spec.request.max_tokens, 7u);
  EXPECT_EQ(r.spec.request.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.spec.request.narration_mode, narration::Mode::cute);
  ASSERT_EQ(r.spec.request.messages.size(), 2u);
  EXPECT_EQ(r.spec.request.messages[0].role, "system");
  EXPECT_EQ(r.spec.request.messages[1].content, "Hi there");
  // OpenAI's sampling defaults, not the worker's.
  EXPECT_EQ(r.spec.request.temperature, 1.0f);
  EXPECT_EQ(r.spec.request.top_p, 1.0f);
  EXPECT_EQ(r.spec.request.top_k, 0);
}

TEST(OpenAiRequest, CompletionsDefaultToSixteenTokensAndTakeAOneStringArray) {
  const auto parsed = parse_openai_request(R"({"model":"m","prompt":["Once"]})", false);
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(parsed));
  EXPECT_EQ(std::get<OpenAiRequest>(parsed).spec.request.prompt, "Once");
  EXPECT_EQ(std::get<OpenAiRequest>(parsed).spec.request.max_tokens, 16u);
}

TEST(OpenAiRequest, WhatLlorchCannotHonourIsRefusedByName) {
  EXPECT_EQ(
      failing_fields(parse_openai_request(
          R"({"prompt":"x","n":2,"logprobs":25,"presence_penalty":0.5,"temperature":3,"tools":[]})",
          false)),
      (std::set<std::string>{"model", "n", "logprobs", "presence_penalty", "temperature",
                             "tools"}));
  EXPECT_EQ(
      failing_fields(parse_openai_request(
          R"({"model":"m","messages":[{"role":"tool","content":"x"},{"role":"user","content":7}]})",
          true)),
      (std::set<std::string>{"messages[0].role", "messages[1].content"}));
  // Values that change nothing are accepted.
  EXPECT_TRUE(std::holds_alternative<OpenAiRequest>(parse_openai_request(
      R"({"model":"m","prompt":"x","n":1,"presence_penalty":0,"logprobs":null,"echo":false,"user":"u"})",
      false)));
}

// Log-probabilities: chat asks with logprobs: true (+ top_logprobs), completions with a count.
TEST(OpenAiRequest, LogprobsMapOntoTheWorkersCount) {
  const auto chat = parse_openai_request(
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":3})",
      true);
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(chat));
  EXPECT_TRUE(std::get<OpenAiRequest>(chat).logprobs);
  EXPECT_EQ(std::get<OpenAiRequest>(chat).spec.request.logprobs, 3);
  const auto completion = parse_openai_request(R"({"model":"m","prompt":"x","logprobs":2})", false);
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(completion));
  EXPECT_EQ(std::get<OpenAiRequest>(completion).spec.request.logprobs, 2);
  const auto off = parse_openai_request(R"({"model":"m","prompt":"x"})", false);
  EXPECT_FALSE(std::get<OpenAiRequest>(off).spec.request.logprobs.has_value());
  EXPECT_EQ(
      failing_fields(parse_openai_request(
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2})", true)),
      (std::set<std::string>{"top_logprobs"}));
  EXPECT_EQ(failing_fields(parse_openai_request(
                R"({"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true,)"
                R"("top_logprobs":21})",
                true)),
            (std::set<std::string>{"top_logprobs"}));
  EXPECT_EQ(failing_fields(parse_openai_request(
                R"({"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":3})", true)),
            (std::set<std::string>{"logprobs"}));
}

TEST(OpenAiRequest, FieldsOtherClientsSendAreAcceptedOrHonoured) {
  const auto parsed = parse_openai_request(
      R"({"model":"m","prompt":"x","store":false,"metadata":{"a":"b"},"user":"u",)"
      R"("parallel_tool_calls":true,"service_tier":"auto","cache_prompt":true,"keep_alive":"5m",)"
      R"("repeat_penalty":1.3})",
      false);
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(parsed));
  const auto& r = std::get<OpenAiRequest>(parsed);
  EXPECT_FLOAT_EQ(r.spec.request.repetition_penalty, 1.3f) << "llama.cpp's repeat_penalty";
  EXPECT_EQ(r.ignored.size(), 7u);
  // repetition_penalty wins over the alias; the alias is judged by the same rules.
  EXPECT_FLOAT_EQ(
      std::get<OpenAiRequest>(
          parse_openai_request(
              R"({"model":"m","prompt":"x","repeat_penalty":1.3,"repetition_penalty":1.1})", false))
          .spec.request.repetition_penalty,
      1.1f);
  EXPECT_EQ(failing_fields(
                parse_openai_request(R"({"model":"m","prompt":"x","repeat_penalty":9})", false)),
            (std::set<std::string>{"repetition_penalty"}));
}

PoolReport report(std::vector<WorkerEntry> workers) {
  return {"p", "http://127.0.0.1:1", std::move(workers)};
}

WorkerEntry worker(std::string id, std::string state, int slots, std::string model = "/m/a.gguf") {
  WorkerEntry w;
  w.id = std::move(id);
  w.state = std::move(state);
  w.url = "http://127.0.0.1:2/" + w.id;
  w.model = std::move(model);
  w.slots = slots;
  return w;
}

TEST(PoolRegistry, PicksTheLeastLoadedReadyWorkerWithAFreeSlotOfTheModel) {
  PoolRegistry registry;
  registry.update(report({worker("w1", "ready", 2), worker("w2", "ready", 1),
                          worker("w3", "loading", 4), worker("w4", "ready", 4, "/m/b.gguf")}),
                  true);
  PoolEntry* pool = nullptr;
  WorkerEntry* first = registry.pick("a", &pool);
  ASSERT_NE(first, nullptr);
  ++first->in_use;
  WorkerEntry* second = registry.pick("a", &pool);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first->id, second->id);
  ++second->in_use;
  WorkerEntry* third = registry.pick("a", &pool);
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->id, "w1");  // the only one with a slot left
  ++third->in_use;
  EXPECT_EQ(registry.pick("a", &pool), nullptr);
  EXPECT_EQ(registry.pick("b", &pool)->id, "w4");
  EXPECT_EQ(registry.models(), (std::vector<std::string>{"a", "b"}));
  // A heartbeat keeps the slots held on the same processes.
  registry.update(report({worker("w1", "busy", 2), worker("w2", "ready", 1)}), true);
  EXPECT_EQ(registry.find("p", "w1")->in_use, 2);
  EXPECT_EQ(registry.pick("a", &pool), nullptr);
}

TEST(PoolRegistry, ABadReportNamesEachField) {
  std::vector<api::FieldError> errors;
  EXPECT_FALSE(parse_pool_report(
      R"({"pool_id":"p 1","url":"ftp://x","workers":[{"id":1,"state":"ready","model":"m","slots":0}]})",
      true, errors));
  std::set<std::string> fields;
  for (const auto& e : errors) fields.insert(e.field);
  EXPECT_EQ(fields, (std::set<std::string>{"pool_id", "url", "workers[0].id", "workers[0].slots"}));
}

}  // namespace
}  // namespace llorch::orchestrator
