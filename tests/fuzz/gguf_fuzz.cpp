// libFuzzer target: any bytes as a GGUF file. The reader must reject or accept them without
// crashing or reading outside the input; accepted files go on through the vocabulary and the
// tokenizer, which read what the metadata says.
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/gguf.hpp"
#include "engine/model_error.hpp"
#include "engine/tokenizer.hpp"
#include "engine/vocabulary.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llorch::engine;
  try {
    const GgufFile file(std::as_bytes(std::span(data, size)), "fuzz.gguf");
    for (const auto& tensor : file.tensors()) {
      if (tensor.bytes > 0) (void)file.tensor_data(tensor);
    }
    const Vocabulary vocab = read_vocabulary(file);
    const auto tokenizer = Tokenizer::create(vocab);
    const auto ids = tokenizer->encode("Hello world, 12345 héllo 😊", true);
    (void)decode(*tokenizer, ids, true);
  } catch (const ModelError&) {
    // rejected with a message: what we want for bad input
  }
  return 0;
}
