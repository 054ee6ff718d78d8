// The browser pages, each one self-contained HTML document compiled into the binary.
#pragma once

#include <string_view>

namespace llorch::ui {

// GET /: send a prompt or a chat, watch the answer stream in beside its narration.
std::string_view chat_page();
// GET /ui/system: pools, workers, the queue, running tasks and the live narration feed.
std::string_view system_page();

}  // namespace llorch::ui
