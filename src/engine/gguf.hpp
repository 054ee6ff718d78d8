// GGUF (versions 2 and 3): metadata and tensor table of a memory-mapped model file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "engine/mapped_file.hpp"

namespace llorch::engine {

// A metadata array. Integers (and bools) land in `ints`, floats in `reals`, strings in
// `strings`; nested arrays are counted but not kept.
struct GgufArray {
  std::uint32_t element_type = 0;  // the GGUF value type id of the elements
  std::uint64_t count = 0;
  std::vector<std::int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> strings;
};

using GgufValue = std::variant<std::int64_t, std::uint64_t, double, bool, std::string, GgufArray>;

struct GgufTensorInfo {
  std::string name;
  std::vector<std::uint64_t> shape;  // ne0 first: ne0 is the length of a row
  std::uint32_t type_id = 0;         // ggml type id (may be one llorch cannot compute with)
  std::uint64_t offset = 0;          // from the start of the data section
  std::uint64_t bytes = 0;           // 0 when the type is unknown to llorch
  std::uint64_t elements() const;
};

// Parses and validates the whole header at construction; every count, length, offset and size is
// checked against the file, so a truncated, corrupt or hostile file throws ModelError naming the
// file and the problem — nothing is ever read outside the mapping.
class GgufFile {
 public:
  explicit GgufFile(MappedFile file);
  // Parses bytes held elsewhere (`owner` keeps them alive; may be null when the caller does).
  // `name` stands for the file in errors.
  GgufFile(std::span<const std::byte> bytes, std::string name,
           std::shared_ptr<const void> owner = {});
  static GgufFile open(const std::string& path);

  std::uint32_t version() const noexcept { return version_; }
  std::uint64_t alignment() const noexcept { return alignment_; }
  std::uint64_t data_offset() const noexcept { return data_offset_; }
  const std::string& path() const noexcept { return name_; }
  std::size_t file_size() const noexcept { return bytes_.size(); }

  const std::map<std::string, GgufValue>& metadata() const noexcept { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  const std::vector<GgufTensorInfo>& tensors() const noexcept { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;

  // The tensor's bytes inside the mapping (its type must be one llorch knows).
  std::span<const std::byte> tensor_data(const GgufTensorInfo& tensor) const;

  // Typed metadata look-ups; throw ModelError when present with the wrong type.
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<std::uint64_t> get_uint(const std::string& key) const;
  std::optional<double> get_real(const std::string& key) const;
  std::optional<bool> get_bool(const std::string& key) const;
  const GgufArray* get_array(const std::string& key) const;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void parse();

  std::span<const std::byte> bytes_;
  std::string name_;
  std::shared_ptr<const void> owner_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, std::size_t> tensor_index_;
};

// A value rendered for people (arrays abbreviated), for `llorch model info`.
std::string describe(const GgufValue& value);

}  // namespace llorch::engine
