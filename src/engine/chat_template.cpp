#include "engine/chat_template.hpp"

#include <fmt/format.h>

namespace llorch::engine {

namespace {

bool has(std::string_view text, std::string_view marker) {
  return text.find(marker) != std::string_view::npos;
}

std::string render_llama2(const std::vector<ChatMessage>& messages) {
  // [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
  std::string out;
  std::string system;
  bool first_user = true;
  for (const auto& m : messages) {
    if (m.role == "system") {
      system = m.content;
    } else if (m.role == "user") {
      if (!first_user) out += "<s>";
      out += "[INST] ";
      if (!system.empty()) {
        out += fmt::format("<<SYS>>\n{}\n<</SYS>>\n\n", system);
        system.clear();
      }
      out += m.content + " [/INST]";
      first_user = false;
    } else {
      out += " " + m.content + " </s>";
    }
  }
  return out;
}

}  // namespace

ChatFormat detect_chat_format(std::string_view t) {
  if (has(t, "<|im_start|>")) return ChatFormat::chatml;
  if (has(t, "<|start_header_id|>")) return ChatFormat::llama3;
  if (has(t, "<start_of_turn>")) return ChatFormat::gemma;
  if (has(t, "<|assistant|>") && has(t, "<|end|>")) return ChatFormat::phi3;
  if (has(t, "<|user|>")) return ChatFormat::zephyr;
  if (has(t, "[INST]")) return ChatFormat::llama2;
  return ChatFormat::plain;
}

std::string_view to_string(ChatFormat format) {
  switch (format) {
    case ChatFormat::chatml:
      return "chatml";
    case ChatFormat::llama2:
      return "llama2";
    case ChatFormat::llama3:
      return "llama3";
    case ChatFormat::zephyr:
      return "zephyr";
    case ChatFormat::gemma:
      return "gemma";
    case ChatFormat::phi3:
      return "phi3";
    case ChatFormat::plain:
      return "plain";
  }
  return "plain";
}

std::string render_chat(ChatFormat format, const std::vector<ChatMessage>& messages) {
  std::string out;
  switch (format) {
    case ChatFormat::chatml:
      for (const auto& m : messages)
        out += fmt::format("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content);
      return out + "<|im_start|>assistant\n";
    case ChatFormat::llama3:
      for (const auto& m : messages)
        out += fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", m.role,
                           m.content);
      return out + "<|start_header_id|>assistant<|end_header_id|>\n\n";
    case ChatFormat::gemma: {
      // Gemma has no system role: the system text leads the first user turn.
      std::string system;
      for (const auto& m : messages) {
        if (m.role == "system") {
          system += m.content + "\n\n";
          continue;
        }
        const bool user = m.role == "user";
        out += fmt::format("<start_of_turn>{}\n{}{}<end_of_turn>\n", user ? "user" : "model",
                           user ? system : "", m.content);
        if (user) system.clear();
      }
      return out + "<start_of_turn>model\n";
    }
    case ChatFormat::phi3:
      for (const auto& m : messages) out += fmt::format("<|{}|>\n{}<|end|>\n", m.role, m.content);
      return out + "<|assistant|>\n";
    case ChatFormat::zephyr:
      for (const auto& m : messages) out += fmt::format("<|{}|>\n{}</s>\n", m.role, m.content);
      return out + "<|assistant|>\n";
    case ChatFormat::llama2:
      return render_llama2(messages);
    case ChatFormat::plain:
      break;
  }
  for (const auto& m : messages) {
    const std::string_view name = m.role == "system" ? "System"
                                  : m.role == "user" ? "User"
                                                     : "Assistant";
    out += fmt::format("{}: {}\n\n", name, m.content);
  }
  return out + "Assistant:";
}

}  // namespace llorch::engine
