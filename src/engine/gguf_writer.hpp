// Writes GGUF v3 files: metadata and tensors, data aligned as the reader expects.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace llorch::engine {

class GgufWriter {
 public:
  void add_string(const std::string& key, const std::string& value);
  void add_uint32(const std::string& key, std::uint32_t value);
  void add_float32(const std::string& key, float value);
  void add_bool(const std::string& key, bool value);
  void add_strings(const std::string& key, const std::vector<std::string>& values);
  void add_float32s(const std::string& key, const std::vector<float>& values);
  void add_int32s(const std::string& key, const std::vector<std::int32_t>& values);

  // `shape` is ne0 first; `data` holds the tensor in its type's layout.
  void add_tensor(const std::string& name, const std::vector<std::uint64_t>& shape,
                  std::uint32_t type_id, std::span<const std::byte> data);

  std::vector<std::byte> bytes() const;
  void write(const std::string& path) const;  // throws std::system_error

 private:
  struct PendingTensor {
    std::string name;
    std::vector<std::uint64_t> shape;
    std::uint32_t type_id;
    std::vector<std::byte> data;
  };
  std::vector<std::byte> metadata_;
  std::uint64_t kv_count_ = 0;
  std::vector<PendingTensor> tensors_;
};

}  // namespace llorch::engine
