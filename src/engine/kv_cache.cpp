#include "engine/kv_cache.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/quant.hpp"

namespace llorch::engine {

namespace {

std::size_t row_bytes_of(TensorType type, std::size_t kv_dim) {
  switch (type) {
    case TensorType::f32:
      return kv_dim * sizeof(float);
    case TensorType::f16:
      return kv_dim * sizeof(std::uint16_t);
    case TensorType::q8_0:
      return kv_dim / 32 * sizeof(BlockQ8_0);
    default:
      throw std::invalid_argument("a KV cache holds f32, f16 or q8_0, not " +
                                  std::string(traits(type).name));
  }
}

// splitmix64's finaliser: every input bit reaches every output bit.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

KvBlockPool::KvBlockPool(const ModelConfig& config, TensorType type, std::size_t tokens,
                         bool prefix_caching)
    : type_(type),
      layers_(config.n_layers),
      kv_dim_(config.kv_dim()),
      row_bytes_(0),
      bytes_per_half_(0),
      prefix_caching_(prefix_caching) {
  if (type == TensorType::q8_0 && config.head_size % 32 != 0) {
    throw std::invalid_argument(
        "a q8_0 KV cache needs a head size that is a multiple of 32; this "
        "model's is " +
        std::to_string(config.head_size) + " (use f16)");
  }
  row_bytes_ = row_bytes_of(type, kv_dim_);
  const std::size_t count = std::max<std::size_t>(1, blocks_for(tokens));
  bytes_per_half_ = layers_ * count * kBlockTokens * row_bytes_;
  keys_.reset(new std::byte[bytes_per_half_]);
  values_.reset(new std::byte[bytes_per_half_]);
  blocks_.resize(count);
  free_.reserve(count);
  // Handed out from the back: block 0 first, so a small load touches the start of the arrays.
  for (std::size_t b = count; b-- > 0;) free_.push_back(static_cast<BlockId>(b));
}

KvBlockPool::~KvBlockPool() = default;

void KvBlockPool::store(std::size_t layer, BlockId block, std::size_t offset, const float* k,
                        const float* v) const noexcept {
  quantize_row(type_, k, key(layer, block, offset), kv_dim_);
  quantize_row(type_, v, value(layer, block, offset), kv_dim_);
}

void KvBlockPool::copy(BlockId from, BlockId to, std::size_t count) const noexcept {
  for (std::size_t l = 0; l < layers_; ++l) {
    std::memcpy(key(l, to, 0), key(l, from, 0), count * row_bytes_);
    std::memcpy(value(l, to, 0), value(l, from, 0), count * row_bytes_);
  }
}

std::optional<BlockId> KvBlockPool::allocate() {
  BlockId id = 0;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    id = lru_.front();
    lru_.pop_front();
    Block& b = blocks_[id];
    if (const auto it = index_.find(b.hash); it != index_.end() && it->second == id)
      index_.erase(it);
    b.published = false;
  } else {
    return std::nullopt;
  }
  blocks_[id].holders = 1;
  return id;
}

void KvBlockPool::retain(BlockId block) {
  Block& b = blocks_[block];
  if (b.holders == 0 && b.published) lru_.erase(b.lru);
  ++b.holders;
}

void KvBlockPool::release(BlockId block) {
  Block& b = blocks_[block];
  if (b.holders == 0 || --b.holders > 0) return;
  if (b.published) {
    b.lru = lru_.insert(lru_.end(), block);
  } else {
    free_.push_back(block);
  }
}

std::uint64_t KvBlockPool::chain(std::uint64_t parent, std::span<const TokenId> tokens) noexcept {
  std::uint64_t h = mix(parent + 0x9e3779b97f4a7c15ULL);
  for (const TokenId t : tokens) h = mix(h ^ static_cast<std::uint32_t>(t));
  return h;
}

std::optional<BlockId> KvBlockPool::find(std::uint64_t hash, std::uint64_t parent,
                                         std::span<const TokenId> tokens) {
  if (!prefix_caching_ || tokens.size() != kBlockTokens) return std::nullopt;
  const auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  const Block& b = blocks_[it->second];
  if (b.parent != parent || !std::equal(tokens.begin(), tokens.end(), b.tokens.begin()))
    return std::nullopt;
  retain(it->second);
  return it->second;
}

void KvBlockPool::publish(BlockId block, std::uint64_t hash, std::uint64_t parent,
                          std::span<const TokenId> tokens) {
  if (!prefix_caching_ || tokens.size() != kBlockTokens || index_.contains(hash)) return;
  Block& b = blocks_[block];
  if (b.published) unpublish(block);
  b.published = true;
  b.hash = hash;
  b.parent = parent;
  std::copy(tokens.begin(), tokens.end(), b.tokens.begin());
  index_.emplace(hash, block);
}

void KvBlockPool::unpublish(BlockId block) {
  Block& b = blocks_[block];
  if (!b.published) return;
  if (const auto it = index_.find(b.hash); it != index_.end() && it->second == block)
    index_.erase(it);
  b.published = false;
  if (b.holders == 0) {
    lru_.erase(b.lru);
    free_.push_back(block);
  }
}

KvCache::KvCache(KvBlockPool& pool) : pool_(&pool) {}

KvCache::KvCache(const ModelConfig& config, TensorType type)
    : own_pool_(std::make_unique<KvBlockPool>(config, type, config.context_length, false)),
      pool_(own_pool_.get()) {}

KvCache::~KvCache() {
  clear();
}

bool KvCache::prepare(std::size_t pos, std::size_t count) {
  const std::size_t end = pos + count;
  tokens_.resize(std::min(tokens_.size(), pos));
  hashes_.resize(std::min(hashes_.size(), tokens_.size() / kBlock));
  // Blocks already in the table that the write touches: a shared one is replaced by a copy of
  // the positions before `pos`; a published one of ours leaves the prefix cache.
  const std::size_t last = std::min(table_.size(), KvBlockPool::blocks_for(end));
  for (std::size_t b = pos / kBlock; b < last; ++b) {
    const BlockId id = table_[b];
    if (pool_->holders(id) > 1) {
      const auto fresh = pool_->allocate();
      if (!fresh) return false;
      if (b * kBlock < pos) pool_->copy(id, *fresh, pos - b * kBlock);
      pool_->release(id);
      table_[b] = *fresh;
    } else {
      pool_->unpublish(id);
    }
  }
  while (table_.size() < KvBlockPool::blocks_for(end)) {
    const auto fresh = pool_->allocate();
    if (!fresh) return false;
    table_.push_back(*fresh);
  }
  return true;
}

void KvCache::commit(std::span<const TokenId> tokens, std::size_t pos) {
  // A gap (positions written without their tokens recorded) ends what the cache can vouch for.
  if (tokens_.size() != pos) return;
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  const std::span<const TokenId> all(tokens_);
  while (hashes_.size() < tokens_.size() / kBlock && hashes_.size() < table_.size()) {
    const std::size_t b = hashes_.size();
    const auto block_tokens = all.subspan(b * kBlock, kBlock);
    const std::uint64_t parent = parent_hash(b);
    hashes_.push_back(KvBlockPool::chain(parent, block_tokens));
    pool_->publish(table_[b], hashes_.back(), parent, block_tokens);
  }
}

std::size_t KvCache::adopt_prefix(std::span<const TokenId> tokens, std::size_t limit) {
  if (!table_.empty() || !pool_->prefix_caching()) return 0;
  const std::size_t whole = std::min(limit, tokens.size()) / kBlock;
  for (std::size_t b = 0; b < whole; ++b) {
    const auto block_tokens = tokens.subspan(b * kBlock, kBlock);
    const std::uint64_t parent = parent_hash(b);
    const std::uint64_t hash = KvBlockPool::chain(parent, block_tokens);
    const auto found = pool_->find(hash, parent, block_tokens);
    if (!found) break;
    table_.push_back(*found);
    hashes_.push_back(hash);
    tokens_.insert(tokens_.end(), block_tokens.begin(), block_tokens.end());
  }
  return tokens_.size();
}

void KvCache::clear() noexcept {
  for (const BlockId id : table_) pool_->release(id);
  table_.clear();
  tokens_.clear();
  hashes_.clear();
}

}  // namespace llorch::engine
