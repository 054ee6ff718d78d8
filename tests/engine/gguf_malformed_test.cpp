// Truncated, corrupt and hostile GGUF files are rejected with an error naming the problem —
// never a crash, never a read outside the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "engine/arch/architecture.hpp"
#include "engine/gguf.hpp"
#include "engine/gguf_writer.hpp"
#include "engine/model.hpp"
#include "engine/model_error.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

using ::testing::HasSubstr;
using testing::models_dir;

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  const std::vector<char> chars{std::istreambuf_iterator<char>(in), {}};
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

std::string error_of(std::span<const std::byte> bytes) {
  try {
    GgufFile file(bytes, "test.gguf");
    return "";
  } catch (const ModelError& e) {
    return e.what();
  }
}

template <typename T>
void poke(std::vector<std::byte>& bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

TEST(GgufMalformed, TheSharedModelsParse) {
  for (const char* name : {"/gguf/stories260K.gguf", "/gguf/llama-2-tiny-random.gguf"}) {
    EXPECT_EQ(error_of(read_file(models_dir() + name)), "") << name;
  }
}

TEST(GgufMalformed, EveryTruncationIsAnError) {
  const auto full = read_file(models_dir() + "/gguf/stories260K.gguf");
  const GgufFile parsed(full, "stories260K.gguf");
  const std::size_t header_end = parsed.data_offset();
  // Every prefix of the header, then cuts inside the data of every tensor.
  for (std::size_t cut = 0; cut < header_end; ++cut) {
    const std::string error = error_of(std::span(full).first(cut));
    ASSERT_NE(error, "") << "accepted a file cut at byte " << cut;
    ASSERT_THAT(error, HasSubstr("test.gguf"));
  }
  for (const auto& t : parsed.tensors()) {
    const std::size_t cut = header_end + t.offset + t.bytes - 1;
    ASSERT_THAT(error_of(std::span(full).first(cut)), HasSubstr("truncated")) << t.name;
  }
}

TEST(GgufMalformed, WrongMagicAndVersions) {
  auto bytes = read_file(models_dir() + "/gguf/stories260K.gguf");
  auto bad_magic = bytes;
  bad_magic[0] = std::byte{'X'};
  EXPECT_THAT(error_of(bad_magic), HasSubstr("not a GGUF file"));
  for (std::uint32_t version : {0u, 1u, 4u, 0xFFFFFFFFu}) {
    auto b = bytes;
    poke(b, 4, version);
    EXPECT_THAT(error_of(b), HasSubstr("version")) << version;
  }
}

TEST(GgufMalformed, AbsurdCountsAndLengths) {
  const auto bytes = read_file(models_dir() + "/gguf/stories260K.gguf");
  auto huge_tensors = bytes;
  poke<std::uint64_t>(huge_tensors, 8, std::uint64_t{1} << 60);
  EXPECT_THAT(error_of(huge_tensors), HasSubstr("absurd tensor count"));
  auto huge_kv = bytes;
  poke<std::uint64_t>(huge_kv, 16, ~std::uint64_t{0});
  EXPECT_THAT(error_of(huge_kv), HasSubstr("absurd metadata count"));
  auto huge_key = bytes;
  poke<std::uint64_t>(huge_key, 24, std::uint64_t{1} << 62);  // length of the first key
  EXPECT_THAT(error_of(huge_key), HasSubstr("absurd length"));
}

// A small valid file built here, then broken one field at a time.
GgufWriter small_file() {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_strings("tokenizer.ggml.tokens", {"a", "b"});
  std::vector<float> values(64, 1.0f);
  w.add_tensor("t", {32, 2}, 0, std::as_bytes(std::span(values)));
  return w;
}

TEST(GgufMalformed, HostileTensorTables) {
  const auto good = small_file().bytes();
  ASSERT_EQ(error_of(good), "");
  const GgufFile parsed(good, "x");
  // Locate the tensor entry: name "t" (u64 1, 't'), then dims, shape, type, offset.
  const std::string needle = std::string("\x01\0\0\0\0\0\0\0t", 9);
  const auto* begin = reinterpret_cast<const char*>(good.data());
  const std::size_t entry = std::string_view(begin, good.size()).find(needle);
  ASSERT_NE(entry, std::string::npos);
  const std::size_t dims_at = entry + 9, shape_at = dims_at + 4, type_at = shape_at + 16,
                    offset_at = type_at + 4;

  auto b = good;
  poke<std::uint32_t>(b, dims_at, 0);
  EXPECT_THAT(error_of(b), HasSubstr("dimensions"));
  b = good;
  poke<std::uint32_t>(b, dims_at, 9);
  EXPECT_THAT(error_of(b), HasSubstr("dimensions"));
  b = good;
  poke<std::uint64_t>(b, shape_at, std::uint64_t{1} << 40);
  poke<std::uint64_t>(b, shape_at + 8, std::uint64_t{1} << 40);
  EXPECT_THAT(error_of(b), HasSubstr("absurd shape"));
  b = good;
  poke<std::uint64_t>(b, shape_at, 0);
  EXPECT_THAT(error_of(b), HasSubstr("absurd shape"));
  b = good;
  poke<std::uint64_t>(b, offset_at, 3);
  EXPECT_THAT(error_of(b), HasSubstr("alignment"));
  b = good;
  poke<std::uint64_t>(b, offset_at, std::uint64_t{1} << 50);
  EXPECT_THAT(error_of(b), HasSubstr("beyond the end"));
  b = good;
  poke<std::uint64_t>(b, offset_at, ~std::uint64_t{0} - 31);
  EXPECT_THAT(error_of(b), HasSubstr("beyond the end"));
  b = good;
  poke<std::uint32_t>(b, type_at, 2);  // q4_0: 32 values need 18 bytes, rows fit — still valid
  EXPECT_EQ(error_of(b), "");
  b = good;
  poke<std::uint64_t>(b, shape_at, 33);  // q4_0 row of 33 values is not whole blocks
  poke<std::uint32_t>(b, type_at, 2);
  EXPECT_THAT(error_of(b), HasSubstr("blocks"));
}

TEST(GgufMalformed, MetadataTypeErrors) {
  GgufWriter w;
  w.add_string("a", "x");
  auto b = w.bytes();
  // value type of "a" sits after magic(4) version(4) counts(16) key(8+1)
  poke<std::uint32_t>(b, 33, 77);
  EXPECT_THAT(error_of(b), HasSubstr("unknown metadata value type"));
  GgufWriter bad_bool;
  bad_bool.add_bool("flag", true);
  auto bb = bad_bool.bytes();
  bb[bb.size() - 1] = std::byte{7};
  EXPECT_THAT(error_of(bb), HasSubstr("bool"));
  GgufWriter dup;
  dup.add_uint32("k", 1);
  dup.add_uint32("k", 2);
  EXPECT_THAT(error_of(dup.bytes()), HasSubstr("duplicate"));
}

TEST(GgufMalformed, ModelLevelProblemsNameTheCause) {
  const std::string dir = ::testing::TempDir();
  const auto expect_load_error = [&](const GgufWriter& w, const std::string& needle) {
    const std::string path = dir + "/llorch-malformed.gguf";
    w.write(path);
    try {
      (void)load_model(path);
      ADD_FAILURE() << "loaded a broken model; expected: " << needle;
    } catch (const ModelError& e) {
      EXPECT_THAT(e.what(), HasSubstr(needle));
      EXPECT_THAT(e.what(), HasSubstr(path));
    }
  };
  GgufWriter other_arch;
  other_arch.add_string("general.architecture", "bert");
  expect_load_error(other_arch, "general.architecture is \"bert\"");
  // The list of what does run comes from the architecture table.
  expect_load_error(other_arch, "llorch runs these architectures: " + supported_architectures());
  for (const Architecture* a : architectures())
    EXPECT_THAT(supported_architectures(), HasSubstr(std::string(a->name)));

  GgufWriter no_tokenizer;
  no_tokenizer.add_string("general.architecture", "llama");
  expect_load_error(no_tokenizer, "tokenizer.ggml.model");

  GgufWriter no_tensors = small_file();
  no_tensors.add_string("tokenizer.ggml.model", "llama");
  no_tensors.add_uint32("llama.embedding_length", 32);
  no_tensors.add_uint32("llama.feed_forward_length", 64);
  no_tensors.add_uint32("llama.block_count", 1);
  no_tensors.add_uint32("llama.attention.head_count", 4);
  expect_load_error(no_tensors, "token_embd.weight is missing");

  // A tensor type llorch does not compute with names itself and the types that do compute.
  GgufWriter odd_type = no_tensors;
  const std::vector<std::byte> odd_bytes(32 * 2 * 4);
  odd_type.add_tensor("token_embd.weight", {32, 2}, 16 /* iq2_xxs */, odd_bytes);
  expect_load_error(odd_type,
                    "has type iq2_xxs; llorch computes with f32, f16, q4_0, q4_1, q5_0, "
                    "q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, bf16");

  try {
    (void)load_model(dir + "/does-not-exist.gguf");
    ADD_FAILURE();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot open"));
  }
}

TEST(Llama2cMalformed, TruncatedCheckpointIsAnError) {
  const auto full = read_file(models_dir() + "/llama2c/stories260K.bin");
  const std::string path = ::testing::TempDir() + "/stories260K.bin";
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{10}, std::size_t{28}, full.size() / 2, full.size() - 4}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(full.data()), static_cast<std::streamsize>(cut));
    EXPECT_THROW((void)load_model(path, {.tokenizer_path = models_dir() + "/llama2c/tok512.bin"}),
                 ModelError)
        << cut;
  }
}

}  // namespace
}  // namespace llorch::engine
