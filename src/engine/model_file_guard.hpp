// A model file changed under a running process. Weights are memory-mapped: a file truncated or
// rewritten in place would otherwise kill the process with SIGBUS in the middle of a forward pass
// (or quietly change its weights). Every MappedFile registers its mapping here; a SIGBUS inside a
// mapping is survived (the rest of it becomes zero pages) and recorded, and a watch on the file
// (inotify) records writes that do not shrink it. The worker polls changed() and ends each
// stream with MODEL_FILE_CHANGED, then exits so that its pool manager starts it on the new file.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace llorch::engine {

// Registers [data, data + size) as the mapping of a model file (at most 16 at once; more are
// left unprotected). The first call installs the SIGBUS handler, which passes faults outside
// every mapping on to the handler installed before it.
void protect_mapping(const void* data, std::size_t size) noexcept;
void unprotect_mapping(const void* data) noexcept;

// True once a model file changed under this process; why() says how.
bool model_file_changed() noexcept;
std::string model_file_change_reason();

// Watches one file for writes, truncation and replacement for as long as it lives (inotify, on
// a thread of its own); a change sets model_file_changed().
class ModelFileWatch {
 public:
  explicit ModelFileWatch(const std::string& path);
  ~ModelFileWatch();
  ModelFileWatch(const ModelFileWatch&) = delete;
  ModelFileWatch& operator=(const ModelFileWatch&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llorch::engine
