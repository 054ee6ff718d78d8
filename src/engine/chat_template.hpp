// Chat messages to one prompt, in the format the model was trained on. GGUF files carry their
// template as Jinja text (tokenizer.chat_template); llorch recognizes the common families by their
// markers and renders them itself instead of running a Jinja interpreter.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llorch::engine {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class ChatFormat { chatml, llama2, llama3, zephyr, gemma, phi3, plain };

// The family a Jinja template belongs to; `plain` when it is empty or not one llorch knows.
ChatFormat detect_chat_format(std::string_view jinja_template);
std::string_view to_string(ChatFormat format);

// The prompt for `messages`, ending where the assistant's reply begins. BOS is not included (the
// tokenizer adds it). `plain` is llorch's documented default for models without a template:
//   "System: …\n\nUser: …\n\nAssistant: …\n\nUser: …\n\nAssistant:"
std::string render_chat(ChatFormat format, const std::vector<ChatMessage>& messages);

}  // namespace llorch::engine
