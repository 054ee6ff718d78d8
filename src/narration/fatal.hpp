// The last words of a process: a handler for uncaught exceptions (std::terminate) and for fatal
// signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) that writes one narration line — JSON, so
// that a pool manager reading the process's stdout relays it — before the process dies as it
// would have. The signal path uses only async-signal-safe calls, on its own stack, so that a
// stack overflow is reported too.
#pragma once

#include <string_view>

namespace llorch::narration {

// Installs both handlers for a process whose narration says `emitted_by` (e.g. "llorch-worker")
// and whose fatal line names `actor`, written to `fd` (where its narration goes). Idempotent; the
// last call's names win.
void install_fatal_handlers(std::string_view emitted_by, std::string_view actor, int fd);

}  // namespace llorch::narration
