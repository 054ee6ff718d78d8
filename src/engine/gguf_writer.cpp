#include "engine/gguf_writer.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace llorch::engine {
namespace {

constexpr std::uint64_t kAlignment = 32;

// resize + memcpy rather than insert: GCC 12 warns falsely (stringop-overflow) on the latter.
void put_bytes(std::vector<std::byte>& out, const void* data, std::size_t n) {
  if (n == 0) return;
  const std::size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, data, n);
}

template <typename T>
void put(std::vector<std::byte>& out, T value) {
  put_bytes(out, &value, sizeof(T));
}

void put_string(std::vector<std::byte>& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

enum : std::uint32_t { kI32 = 5, kU32 = 4, kF32 = 6, kBool = 7, kString = 8, kArray = 9 };

}  // namespace

void GgufWriter::add_string(const std::string& key, const std::string& value) {
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, kString);
  put_string(metadata_, value);
  ++kv_count_;
}

void GgufWriter::add_uint32(const std::string& key, std::uint32_t value) {
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, kU32);
  put(metadata_, value);
  ++kv_count_;
}

void GgufWriter::add_float32(const std::string& key, float value) {
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, kF32);
  put(metadata_, value);
  ++kv_count_;
}

void GgufWriter::add_bool(const std::string& key, bool value) {
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, kBool);
  put<std::uint8_t>(metadata_, value ? 1 : 0);
  ++kv_count_;
}

void GgufWriter::add_strings(const std::string& key, const std::vector<std::string>& values) {
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, kArray);
  put<std::uint32_t>(metadata_, kString);
  put<std::uint64_t>(metadata_, values.size());
  for (const auto& v : values) put_string(metadata_, v);
  ++kv_count_;
}

void GgufWriter::add_float32s(const std::string& key, const std::vector<float>& values) {
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, kArray);
  put<std::uint32_t>(metadata_, kF32);
  put<std::uint64_t>(metadata_, values.size());
  for (float v : values) put(metadata_, v);
  ++kv_count_;
}

void GgufWriter::add_int32s(const std::string& key, const std::vector<std::int32_t>& values) {
  put_string(metadata_, key);
  put<std::uint32_t>(metadata_, kArray);
  put<std::uint32_t>(metadata_, kI32);
  put<std::uint64_t>(metadata_, values.size());
  for (auto v : values) put(metadata_, v);
  ++kv_count_;
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<std::uint64_t>& shape,
                            std::uint32_t type_id, std::span<const std::byte> data) {
  tensors_.push_back({name, shape, type_id, std::vector<std::byte>(data.begin(), data.end())});
}

std::vector<std::byte> GgufWriter::bytes() const {
  std::vector<std::byte> out;
  put<std::uint32_t>(out, 0x46554747);  // "GGUF"
  put<std::uint32_t>(out, 3);
  put<std::uint64_t>(out, tensors_.size());
  put<std::uint64_t>(out, kv_count_);
  put_bytes(out, metadata_.data(), metadata_.size());
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(t.shape.size()));
    for (auto d : t.shape) put<std::uint64_t>(out, d);
    put<std::uint32_t>(out, t.type_id);
    put<std::uint64_t>(out, offset);
    offset += (t.data.size() + kAlignment - 1) / kAlignment * kAlignment;
  }
  for (const auto& t : tensors_) {
    out.resize((out.size() + kAlignment - 1) / kAlignment * kAlignment);
    put_bytes(out, t.data.data(), t.data.size());
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  const auto data = bytes();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::system_error(errno, std::generic_category(), "cannot write " + path);
}

}  // namespace llorch::engine
