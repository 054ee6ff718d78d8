// A whole file mapped read-only into memory (model weights are used in place, never copied).
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace llorch::engine {

// Owns the mapping; movable, not copyable. Throws ModelError naming the file when it cannot be
// opened or mapped.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  const std::string& path() const noexcept { return path_; }

 private:
  void release() noexcept;

  std::string path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace llorch::engine
