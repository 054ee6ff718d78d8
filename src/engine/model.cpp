#include "engine/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "engine/arch/architecture.hpp"
#include "engine/gguf.hpp"
#include "engine/mapped_file.hpp"
#include "engine/model_error.hpp"
#include "engine/quant.hpp"
#include "engine/repack.hpp"

namespace llorch::engine {
namespace {

constexpr std::size_t kMaxDimension = std::size_t{1} << 20;

std::size_t require_positive(const GgufFile& f, const std::string& key,
                             std::optional<std::uint64_t> fallback = {}) {
  auto value = f.get_uint(key);
  if (!value) value = fallback;
  if (!value) throw ModelError(fmt::format("{}: metadata {} is missing", f.path(), key));
  if (*value == 0 || *value > kMaxDimension) {
    throw ModelError(fmt::format("{}: metadata {} = {} is out of range", f.path(), key, *value));
  }
  return static_cast<std::size_t>(*value);
}

void check_config(const ModelConfig& c, const std::string& path) {
  const auto bad = [&](const std::string& what) {
    throw ModelError(path + ": inconsistent model shape: " + what);
  };
  if (c.head_size == 0 || c.head_size > kMaxDimension)
    bad(fmt::format("head size {} is out of range", c.head_size));
  if (c.n_kv_heads == 0 || c.n_heads % c.n_kv_heads != 0) {
    bad(fmt::format("{} heads are not a multiple of {} KV heads", c.n_heads, c.n_kv_heads));
  }
  if (c.rope_dims == 0 || c.rope_dims > c.head_size || c.rope_dims % 2 != 0) {
    bad(fmt::format("RoPE dimension count {} does not fit head size {}", c.rope_dims, c.head_size));
  }
  if (c.context_length == 0) bad("context length is 0");
  if (c.n_experts > 0 && (c.n_experts_used == 0 || c.n_experts_used > c.n_experts)) {
    bad(fmt::format("{} experts used of {}", c.n_experts_used, c.n_experts));
  }
  if (c.layers.size() != c.n_layers) bad("per-layer settings do not match the layer count");
}

// The types llorch computes with, from the table, for messages.
std::string supported_types() {
  std::string names;
  for (std::uint32_t id = 0; id < 64; ++id) {
    if (const auto type = tensor_type_from_id(id))
      names += (names.empty() ? "" : ", ") + std::string(traits(*type).name);
  }
  return names;
}

class GgufTensors {
 public:
  GgufTensors(const GgufFile& file) : file_(file) {}

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

  // A tensor of `count` matrices of [rows, cols] (count 1: a matrix, or a vector with rows 1),
  // as one Tensor of count·rows rows.
  Tensor get(const std::string& name, std::size_t cols, std::size_t rows, bool must_be_f32 = false,
             std::size_t count = 1) const {
    const GgufTensorInfo* info = file_.find_tensor(name);
    if (info == nullptr)
      throw ModelError(fmt::format("{}: tensor {} is missing", file_.path(), name));
    const auto type = tensor_type_from_id(info->type_id);
    if (!type) {
      throw ModelError(fmt::format("{}: tensor {} has type {}; llorch computes with {}",
                                   file_.path(), name, ggml_type_name(info->type_id),
                                   supported_types()));
    }
    const std::size_t file_cols = static_cast<std::size_t>(info->shape[0]);
    const std::size_t file_rows =
        info->shape.size() > 1 ? static_cast<std::size_t>(info->shape[1]) : 1;
    const std::size_t file_count =
        info->shape.size() > 2 ? static_cast<std::size_t>(info->shape[2]) : 1;
    const bool extra_dims =
        info->shape.size() > 3 && info->elements() != file_cols * file_rows * file_count;
    if (file_cols != cols || file_rows != rows || file_count != count || extra_dims) {
      throw ModelError(fmt::format(
          "{}: tensor {} has shape [{}] but the metadata implies [{}, {}{}]", file_.path(), name,
          fmt::join(info->shape, ", "), cols, rows, count > 1 ? fmt::format(", {}", count) : ""));
    }
    if (must_be_f32 && *type != TensorType::f32) {
      throw ModelError(
          fmt::format("{}: tensor {} must be f32, not {}", file_.path(), name, traits(*type).name));
    }
    if (cols % traits(*type).block_elements != 0) {
      throw ModelError(fmt::format("{}: tensor {} has rows of {} values, not whole {} blocks",
                                   file_.path(), name, cols, traits(*type).name));
    }
    return Tensor{*type, file_.tensor_data(*info).data(), rows * count, cols};
  }
  // The same when the file has it; an absent Tensor otherwise.
  Tensor optional(const std::string& name, std::size_t cols, std::size_t rows,
                  bool must_be_f32 = false) const {
    return has(name) ? get(name, cols, rows, must_be_f32) : Tensor{};
  }

 private:
  const GgufFile& file_;
};

// The keys every GGUF model has, under its architecture's prefix.
void read_common_config(const GgufFile& f, ModelConfig& c) {
  const auto key = [&](const char* suffix) { return c.architecture + "." + suffix; };
  c.dim = require_positive(f, key("embedding_length"));
  c.hidden_dim = require_positive(f, key("feed_forward_length"));
  c.n_layers = require_positive(f, key("block_count"));
  c.n_heads = require_positive(f, key("attention.head_count"));
  c.n_kv_heads = require_positive(f, key("attention.head_count_kv"), c.n_heads);
  c.context_length = require_positive(f, key("context_length"), 2048);
  if (c.n_heads > c.dim)
    throw ModelError(f.path() + ": more attention heads than embedding dimensions");
  c.head_size = require_positive(f, key("attention.key_length"), c.dim / c.n_heads);
  if (const auto value_length = f.get_uint(key("attention.value_length"));
      value_length && *value_length != c.head_size) {
    throw ModelError(
        fmt::format("{}: key length {} and value length {} differ; llorch needs them "
                    "equal",
                    f.path(), c.head_size, *value_length));
  }
  c.rope_dims = require_positive(f, key("rope.dimension_count"), c.head_size);
  c.rope_freq_base = static_cast<float>(f.get_real(key("rope.freq_base")).value_or(10000.0));
  c.rms_eps =
      static_cast<float>(f.get_real(key("attention.layer_norm_rms_epsilon")).value_or(1e-5));
  c.n_experts = static_cast<std::size_t>(f.get_uint(key("expert_count")).value_or(0));
  c.n_experts_used = static_cast<std::size_t>(f.get_uint(key("expert_used_count")).value_or(0));
  if (c.n_experts > 1024) throw ModelError(f.path() + ": more than 1024 experts");
  c.layers.assign(c.n_layers, LayerConfig{c.rope_freq_base, 0});
}

// One layer's weights, whichever of the optional and fused forms the file uses.
LayerWeights read_layer(const GgufTensors& t, const ModelConfig& c, std::size_t l) {
  const auto name = [&](const char* what, const char* kind = "weight") {
    return fmt::format("blk.{}.{}.{}", l, what, kind);
  };
  const std::size_t dim = c.dim, q = c.q_dim(), kv = c.kv_dim(), hidden = c.hidden_dim;
  LayerWeights w;
  w.attn_norm = t.get(name("attn_norm"), dim, 1, true);
  if (t.has(name("attn_qkv"))) {  // fused (Phi-3): Q rows, then K, then V
    const Tensor qkv = t.get(name("attn_qkv"), dim, q + 2 * kv);
    w.wq = qkv.rows_slice(0, q);
    w.wk = qkv.rows_slice(q, kv);
    w.wv = qkv.rows_slice(q + kv, kv);
  } else {
    w.wq = t.get(name("attn_q"), dim, q);
    w.wk = t.get(name("attn_k"), dim, kv);
    w.wv = t.get(name("attn_v"), dim, kv);
  }
  w.bq = t.optional(name("attn_q", "bias"), q, 1, true);
  w.bk = t.optional(name("attn_k", "bias"), kv, 1, true);
  w.bv = t.optional(name("attn_v", "bias"), kv, 1, true);
  w.q_norm = t.optional(name("attn_q_norm"), c.head_size, 1, true);
  w.k_norm = t.optional(name("attn_k_norm"), c.head_size, 1, true);
  w.wo = t.get(name("attn_output"), q, dim);
  w.post_attn_norm = t.optional(name("post_attention_norm"), dim, 1, true);
  w.ffn_norm = t.get(name("ffn_norm"), dim, 1, true);
  if (c.n_experts > 0) {
    w.router = t.get(name("ffn_gate_inp"), dim, c.n_experts);
    const Tensor gate = t.get(name("ffn_gate_exps"), dim, hidden, false, c.n_experts);
    const Tensor up = t.get(name("ffn_up_exps"), dim, hidden, false, c.n_experts);
    const Tensor down = t.get(name("ffn_down_exps"), hidden, dim, false, c.n_experts);
    for (std::size_t e = 0; e < c.n_experts; ++e) {
      w.experts.push_back({gate.rows_slice(e * hidden, hidden), up.rows_slice(e * hidden, hidden),
                           down.rows_slice(e * dim, dim)});
    }
  } else if (!t.has(name("ffn_gate"))) {  // fused (Phi-3): gate rows, then up rows
    const Tensor gate_up = t.get(name("ffn_up"), dim, 2 * hidden);
    w.w_gate = gate_up.rows_slice(0, hidden);
    w.w_up = gate_up.rows_slice(hidden, hidden);
  } else {
    w.w_gate = t.get(name("ffn_gate"), dim, hidden);
    w.w_up = t.get(name("ffn_up"), dim, hidden);
  }
  if (c.n_experts == 0) w.w_down = t.get(name("ffn_down"), hidden, dim);
  w.post_ffn_norm = t.optional(name("post_ffw_norm"), dim, 1, true);
  return w;
}

std::shared_ptr<Model> load_gguf(MappedFile mapped, const LoadOptions& options) {
  auto file = std::make_shared<GgufFile>(std::move(mapped));
  const GgufFile& f = *file;
  auto model = std::make_shared<Model>();
  model->path = f.path();
  model->format = fmt::format("GGUF v{}", f.version());
  model->file_bytes = f.file_size();
  model->storage.push_back(file);
  for (const auto& [key, value] : f.metadata()) model->metadata.emplace_back(key, describe(value));

  const std::string arch_name = f.get_string("general.architecture").value_or("");
  const Architecture* arch = find_architecture(arch_name);
  if (arch == nullptr) {
    throw ModelError(
        fmt::format("{}: general.architecture is \"{}\"; llorch runs these architectures: {}",
                    f.path(), arch_name, supported_architectures()));
  }
  model->vocab = read_vocabulary(f);
  // A template of the wrong type is ignored (the default format applies), not fatal.
  try {
    model->chat_template = f.get_string("tokenizer.chat_template").value_or("");
  } catch (const ModelError&) {
  }

  ModelConfig& c = model->config;
  c.architecture = arch_name;
  read_common_config(f, c);
  c.vocab_size = model->vocab.size();
  arch->configure(f, c);
  if (options.context_length) c.context_length = *options.context_length;
  check_config(c, f.path());

  const GgufTensors t(f);
  model->token_embedding = t.get("token_embd.weight", c.dim, c.vocab_size);
  model->output_norm = t.get("output_norm.weight", c.dim, 1, true);
  if (t.has("output.weight")) {
    model->output = t.get("output.weight", c.dim, c.vocab_size);
  } else {
    model->output = model->token_embedding;
    model->tied_output = true;
  }
  model->rope_freqs = t.optional("rope_freqs.weight", c.rope_dims / 2, 1, true);
  if (t.has("rope_factors_long.weight")) {
    // LongRoPE (Phi-3 128k): the long factors when this run's context exceeds the original one,
    // as llama.cpp chooses them, and the attention factor the converter wrote.
    const auto original = f.get_uint(c.architecture + ".rope.scaling.original_context_length");
    const bool long_context = original && c.context_length > *original;
    model->rope_freqs =
        t.get(long_context ? "rope_factors_long.weight" : "rope_factors_short.weight",
              c.rope_dims / 2, 1, true);
    c.rope_attn_factor =
        static_cast<float>(f.get_real(c.architecture + ".rope.scaling.attn_factor").value_or(1.0));
  }
  for (std::size_t l = 0; l < c.n_layers; ++l) model->layers.push_back(read_layer(t, c, l));
  return model;
}

// llama2.c "legacy" (version 0) checkpoint: 7 int32 header fields, then F32 weights in run.c order.
std::shared_ptr<Model> load_llama2c(MappedFile mapped, const LoadOptions& options) {
  const std::string path = mapped.path();
  const auto bytes = mapped.bytes();
  std::int32_t header[7];
  if (bytes.size() < sizeof header)
    throw ModelError(path + ": neither a GGUF file nor a llama2.c checkpoint (too short)");
  std::memcpy(header, bytes.data(), sizeof header);
  const auto not_a_checkpoint = [&](const std::string& why) {
    throw ModelError(
        path + ": neither a GGUF file (no \"GGUF\" magic) nor a llama2.c checkpoint (" + why + ")");
  };
  for (int i = 0; i < 7; ++i) {
    if (i != 5 && (header[i] <= 0 || header[i] > static_cast<std::int32_t>(kMaxDimension))) {
      not_a_checkpoint("header field " + std::to_string(i) + " is out of range");
    }
  }
  if (header[5] == 0 || header[5] < -static_cast<std::int32_t>(kMaxDimension) ||
      header[5] > static_cast<std::int32_t>(kMaxDimension)) {
    not_a_checkpoint("vocabulary size is out of range");
  }

  auto model = std::make_shared<Model>();
  ModelConfig& c = model->config;
  c.dim = static_cast<std::size_t>(header[0]);
  c.hidden_dim = static_cast<std::size_t>(header[1]);
  c.n_layers = static_cast<std::size_t>(header[2]);
  c.n_heads = static_cast<std::size_t>(header[3]);
  c.n_kv_heads = static_cast<std::size_t>(header[4]);
  const bool shared = header[5] > 0;
  c.vocab_size = static_cast<std::size_t>(shared ? header[5] : -header[5]);
  c.context_length = static_cast<std::size_t>(header[6]);
  if (c.n_heads > c.dim || c.dim % c.n_heads != 0)
    not_a_checkpoint("dim is not a multiple of the head count");
  c.head_size = c.dim / c.n_heads;
  c.rope_dims = c.head_size;
  c.layers.assign(c.n_layers, LayerConfig{c.rope_freq_base, 0});
  const std::size_t model_context = c.context_length;
  if (options.context_length) c.context_length = *options.context_length;
  check_config(c, path);

  // Every size below is at most 2^20 * 2^20 * 2^20 floats: no overflow in 64 bits.
  const std::size_t L = c.n_layers, d = c.dim, h = c.hidden_dim, kv = c.kv_dim();
  const std::size_t floats = c.vocab_size * d + L * d + L * d * d + 2 * L * d * kv + L * d * d +
                             L * d + 3 * L * d * h + d + model_context * c.head_dim() +
                             (shared ? 0 : c.vocab_size * d);
  if (floats > (bytes.size() - sizeof header) / 4) {
    throw ModelError(
        fmt::format("{}: llama2.c checkpoint is truncated: the header's shape needs {} bytes of "
                    "weights, the file has {}",
                    path, floats * 4, bytes.size() - sizeof header));
  }
  const std::byte* p = bytes.data() + sizeof header;
  const auto take = [&](std::size_t rows, std::size_t cols) {
    Tensor t{TensorType::f32, p, rows, cols};
    p += rows * cols * 4;
    return t;
  };
  model->token_embedding = take(c.vocab_size, d);
  model->layers.resize(L);
  for (auto& l : model->layers) l.attn_norm = take(1, d);
  for (auto& l : model->layers) l.wq = take(d, d);
  for (auto& l : model->layers) l.wk = take(kv, d);
  for (auto& l : model->layers) l.wv = take(kv, d);
  for (auto& l : model->layers) l.wo = take(d, d);
  for (auto& l : model->layers) l.ffn_norm = take(1, d);
  for (auto& l : model->layers) l.w_gate = take(h, d);
  for (auto& l : model->layers) l.w_down = take(d, h);
  for (auto& l : model->layers) l.w_up = take(h, d);
  model->output_norm = take(1, d);
  p += model_context * c.head_dim() * 4;  // freq_cis_real and _imag: run.c ignores them too
  if (shared) {
    model->output = model->token_embedding;
    model->tied_output = true;
  } else {
    model->output = take(c.vocab_size, d);
  }

  std::string tokenizer = options.tokenizer_path;
  if (tokenizer.empty()) {
    const auto dir = std::filesystem::path(path).parent_path();
    const auto sized = dir / fmt::format("tok{}.bin", c.vocab_size);
    tokenizer = std::filesystem::exists(sized) ? sized.string() : (dir / "tokenizer.bin").string();
  }
  if (!std::filesystem::exists(tokenizer)) {
    throw ModelError(
        fmt::format("{}: a llama2.c checkpoint needs its tokenizer file; none found at {} "
                    "(pass --tokenizer PATH)",
                    path, tokenizer));
  }
  model->vocab = read_llama2c_vocabulary(tokenizer, c.vocab_size);
  model->path = path;
  model->format = "llama2.c";
  model->file_bytes = bytes.size();
  model->metadata = {{"llama2c.tokenizer", tokenizer},
                     {"llama2c.shared_classifier", shared ? "true" : "false"}};
  model->storage.push_back(std::make_shared<MappedFile>(std::move(mapped)));
  return model;
}

}  // namespace

std::size_t Model::weight_bytes() const {
  std::size_t total = 0;
  for_each_tensor([&](const Tensor& t) { total += t.rows * t.row_bytes(); });
  return total;
}

std::vector<std::pair<std::string, std::size_t>> Model::tensor_type_counts() const {
  std::map<std::string, std::size_t> counts;
  for_each_tensor([&](const Tensor& t) { ++counts[std::string(traits(t.type).name)]; });
  return {counts.begin(), counts.end()};
}

std::shared_ptr<Model> load_model(const std::string& path, const LoadOptions& options) {
  MappedFile mapped(path);
  const auto bytes = mapped.bytes();
  const bool gguf = bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0;
  std::shared_ptr<Model> model =
      gguf ? load_gguf(std::move(mapped), options) : load_llama2c(std::move(mapped), options);
  model->repacked_bytes = repack_for_kernels(*model);
  return model;
}

Vocabulary load_vocabulary(const std::string& path, const LoadOptions& options) {
  MappedFile mapped(path);
  const auto bytes = mapped.bytes();
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) {
    return read_vocabulary(GgufFile(std::move(mapped)));
  }
  return load_llama2c(std::move(mapped), options)->vocab;
}

void requantize(Model& model, TensorType type) {
  const TypeTraits& tt = traits(type);
  const auto convert = [&](Tensor& t) {
    if (t.rows < 2 || t.cols % tt.block_elements != 0 || t.type == type) return;
    auto buffer = std::make_shared<std::vector<std::byte>>(t.rows * (t.cols / tt.block_elements) *
                                                           tt.block_bytes);
    std::vector<float> row(t.cols);
    Tensor converted{type, buffer->data(), t.rows, t.cols};
    for (std::size_t r = 0; r < t.rows; ++r) {
      dequantize_row(t.type, t.row(r), row.data(), t.cols);
      quantize_row(type, row.data(), const_cast<std::byte*>(converted.row(r)), t.cols);
    }
    model.storage.push_back(buffer);
    t = converted;
  };
  const bool tied = model.tied_output;
  model.for_each_tensor(convert);
  if (tied) model.output = model.token_embedding;
}

}  // namespace llorch::engine
