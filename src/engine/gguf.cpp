#include "engine/gguf.hpp"

#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "engine/model_error.hpp"
#include "engine/tensor_type.hpp"

namespace llorch::engine {
namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr std::uint64_t kMaxStringBytes = std::uint64_t{1} << 30;
constexpr int kMaxArrayDepth = 4;
constexpr std::uint32_t kMaxDims = 4;

enum ValueType : std::uint32_t {
  kU8 = 0,
  kI8,
  kU16,
  kI16,
  kU32,
  kI32,
  kF32,
  kBool,
  kString,
  kArray,
  kU64,
  kI64,
  kF64
};

// Bounds-checked little-endian reads over the mapping; every failure names the offset.
class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, std::string path)
      : bytes_(bytes), path_(std::move(path)) {}

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(const char* what) {
    const auto length = read<std::uint64_t>(what);
    if (length > kMaxStringBytes)
      fail(fmt::format("{} has an absurd length of {} bytes", what, length));
    need(length, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_),
                  static_cast<std::size_t>(length));
    pos_ += static_cast<std::size_t>(length);
    return s;
  }

  void skip(std::uint64_t n, const char* what) {
    need(n, what);
    pos_ += static_cast<std::size_t>(n);
  }

  std::size_t position() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError(fmt::format("{}: not a valid GGUF file: {} (at byte {})", path_, what, pos_));
  }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > remaining()) {
      fail(fmt::format("file is truncated: {} needs {} bytes, {} left", what, n, remaining()));
    }
  }

  std::span<const std::byte> bytes_;
  std::string path_;
  std::size_t pos_ = 0;
};

std::size_t scalar_size(std::uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

// Reads one scalar of `type` as the widest matching C++ type.
GgufValue read_scalar(Cursor& c, std::uint32_t type) {
  switch (type) {
    case kU8:
      return std::uint64_t{c.read<std::uint8_t>("u8 value")};
    case kI8:
      return std::int64_t{c.read<std::int8_t>("i8 value")};
    case kU16:
      return std::uint64_t{c.read<std::uint16_t>("u16 value")};
    case kI16:
      return std::int64_t{c.read<std::int16_t>("i16 value")};
    case kU32:
      return std::uint64_t{c.read<std::uint32_t>("u32 value")};
    case kI32:
      return std::int64_t{c.read<std::int32_t>("i32 value")};
    case kU64:
      return c.read<std::uint64_t>("u64 value");
    case kI64:
      return c.read<std::int64_t>("i64 value");
    case kF32:
      return double{c.read<float>("f32 value")};
    case kF64:
      return c.read<double>("f64 value");
    case kBool: {
      const auto b = c.read<std::uint8_t>("bool value");
      if (b > 1) c.fail(fmt::format("bool value {} is neither 0 nor 1", b));
      return b == 1;
    }
    case kString:
      return c.read_string("string value");
    default:
      c.fail(fmt::format("unknown metadata value type {}", type));
  }
}

GgufArray read_array(Cursor& c, int depth) {
  if (depth > kMaxArrayDepth) c.fail("arrays nested too deeply");
  GgufArray array;
  array.element_type = c.read<std::uint32_t>("array element type");
  array.count = c.read<std::uint64_t>("array length");
  const std::size_t size = scalar_size(array.element_type);
  if (size > 0) {
    if (array.count > c.remaining() / size) {
      c.fail(fmt::format("array of {} elements does not fit in the {} bytes left", array.count,
                         c.remaining()));
    }
  } else if (array.element_type == kString || array.element_type == kArray) {
    // each element takes at least 8 bytes (its length or its header)
    if (array.count > c.remaining() / 8) {
      c.fail(fmt::format("array of {} elements does not fit in the {} bytes left", array.count,
                         c.remaining()));
    }
  } else {
    c.fail(fmt::format("unknown array element type {}", array.element_type));
  }
  const auto n = static_cast<std::size_t>(array.count);
  if (array.element_type == kString) {
    array.strings.reserve(n);
    for (std::size_t i = 0; i < n; ++i) array.strings.push_back(c.read_string("array string"));
  } else if (array.element_type == kArray) {
    for (std::size_t i = 0; i < n; ++i) (void)read_array(c, depth + 1);
  } else if (array.element_type == kF32 || array.element_type == kF64) {
    array.reals.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      array.reals.push_back(std::get<double>(read_scalar(c, array.element_type)));
  } else {
    array.ints.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const GgufValue v = read_scalar(c, array.element_type);
      if (const auto* u = std::get_if<std::uint64_t>(&v)) {
        array.ints.push_back(static_cast<std::int64_t>(*u));
      } else if (const auto* b = std::get_if<bool>(&v)) {
        array.ints.push_back(*b ? 1 : 0);
      } else {
        array.ints.push_back(std::get<std::int64_t>(v));
      }
    }
  }
  return array;
}

bool multiply_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

}  // namespace

std::uint64_t GgufTensorInfo::elements() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

GgufFile GgufFile::open(const std::string& path) {
  return GgufFile(MappedFile(path));
}

GgufFile::GgufFile(MappedFile file) {
  auto mapped = std::make_shared<MappedFile>(std::move(file));
  bytes_ = mapped->bytes();
  name_ = mapped->path();
  owner_ = std::move(mapped);
  parse();
}

GgufFile::GgufFile(std::span<const std::byte> bytes, std::string name,
                   std::shared_ptr<const void> owner)
    : bytes_(bytes), name_(std::move(name)), owner_(std::move(owner)) {
  parse();
}

void GgufFile::parse() {
  Cursor c(bytes_, name_);
  if (c.remaining() < 4 || c.read<std::uint32_t>("magic") != kMagic) {
    throw ModelError(name_ + ": not a GGUF file (the first four bytes are not \"GGUF\")");
  }
  version_ = c.read<std::uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    c.fail(fmt::format("version {} is not supported (llorch reads versions 2 and 3)", version_));
  }
  const auto tensor_count = c.read<std::uint64_t>("tensor count");
  const auto kv_count = c.read<std::uint64_t>("metadata count");
  // Each key/value pair takes at least 12 bytes, each tensor entry at least 24.
  if (kv_count > c.remaining() / 12) c.fail(fmt::format("absurd metadata count {}", kv_count));
  if (tensor_count > c.remaining() / 24)
    c.fail(fmt::format("absurd tensor count {}", tensor_count));

  for (std::uint64_t i = 0; i < kv_count; ++i) {
    std::string key = c.read_string("metadata key");
    const auto type = c.read<std::uint32_t>("metadata value type");
    GgufValue value = type == kArray ? GgufValue{read_array(c, 0)} : read_scalar(c, type);
    if (!metadata_.emplace(std::move(key), std::move(value)).second)
      c.fail("duplicate metadata key");
  }

  if (const GgufValue* a = find("general.alignment")) {
    const auto* u = std::get_if<std::uint64_t>(a);
    if (u == nullptr || *u == 0 || (*u & (*u - 1)) != 0 || *u > 65536) {
      c.fail("general.alignment must be an unsigned power of two no larger than 65536");
    }
    alignment_ = *u;
  }

  tensors_.reserve(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo t;
    t.name = c.read_string("tensor name");
    const auto dims = c.read<std::uint32_t>("tensor dimension count");
    if (dims == 0 || dims > kMaxDims)
      c.fail(fmt::format("tensor {} has {} dimensions (1 to 4 allowed)", t.name, dims));
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < dims; ++d) {
      const auto extent = c.read<std::uint64_t>("tensor dimension");
      if (extent == 0 || multiply_overflows(elements, extent, elements) ||
          elements > (std::uint64_t{1} << 40)) {
        c.fail(fmt::format("tensor {} has an absurd shape", t.name));
      }
      t.shape.push_back(extent);
    }
    t.type_id = c.read<std::uint32_t>("tensor type");
    t.offset = c.read<std::uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0) {
      c.fail(fmt::format("tensor {} offset {} is not a multiple of the alignment {}", t.name,
                         t.offset, alignment_));
    }
    if (const auto type = tensor_type_from_id(t.type_id)) {
      const TypeTraits& tt = traits(*type);
      if (t.shape[0] % tt.block_elements != 0) {
        c.fail(fmt::format("tensor {} rows of {} values are not whole {} blocks", t.name,
                           t.shape[0], tt.name));
      }
      t.bytes = elements / tt.block_elements * tt.block_bytes;
    }
    if (!tensor_index_.emplace(t.name, tensors_.size()).second)
      c.fail("duplicate tensor name " + t.name);
    tensors_.push_back(std::move(t));
  }

  const std::uint64_t header_end = c.position();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  const std::uint64_t size = bytes_.size();
  for (const GgufTensorInfo& t : tensors_) {
    if (t.bytes == 0) continue;
    if (data_offset_ > size || t.offset > size - data_offset_ ||
        t.bytes > size - data_offset_ - t.offset) {
      throw ModelError(
          fmt::format("{}: not a valid GGUF file: tensor {} ({} bytes at data offset {}) lies "
                      "beyond the end of the file ({} bytes); the file is truncated",
                      name_, t.name, t.bytes, t.offset, size));
    }
  }
}

void GgufFile::fail(const std::string& what) const {
  throw ModelError(name_ + ": " + what);
}

const GgufValue* GgufFile::find(const std::string& key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::tensor_data(const GgufTensorInfo& tensor) const {
  if (tensor.bytes == 0) {
    fail(fmt::format("tensor {} has type {} which llorch cannot compute with", tensor.name,
                     ggml_type_name(tensor.type_id)));
  }
  return bytes_.subspan(static_cast<std::size_t>(data_offset_ + tensor.offset),
                        static_cast<std::size_t>(tensor.bytes));
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  fail(fmt::format("metadata {} should be a string", key));
}

std::optional<std::uint64_t> GgufFile::get_uint(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* u = std::get_if<std::uint64_t>(v)) return *u;
  if (const auto* i = std::get_if<std::int64_t>(v); i && *i >= 0)
    return static_cast<std::uint64_t>(*i);
  fail(fmt::format("metadata {} should be a non-negative integer", key));
}

std::optional<double> GgufFile::get_real(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* d = std::get_if<double>(v)) return *d;
  if (const auto* u = std::get_if<std::uint64_t>(v)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  fail(fmt::format("metadata {} should be a number", key));
}

std::optional<bool> GgufFile::get_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* b = std::get_if<bool>(v)) return *b;
  fail(fmt::format("metadata {} should be a bool", key));
}

const GgufArray* GgufFile::get_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return nullptr;
  if (const auto* a = std::get_if<GgufArray>(v)) return a;
  fail(fmt::format("metadata {} should be an array", key));
}

std::string describe(const GgufValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v.size() > 60 ? fmt::format("\"{}…\" ({} bytes)", v.substr(0, 60), v.size())
                               : fmt::format("\"{}\"", v);
        } else if constexpr (std::is_same_v<T, GgufArray>) {
          return fmt::format("array of {} {}", v.count,
                             !v.strings.empty() ? "strings"
                             : !v.reals.empty() ? "floats"
                                                : "integers");
        } else {
          return fmt::format("{}", v);
        }
      },
      value);
}

}  // namespace llorch::engine
