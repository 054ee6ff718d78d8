// The paged KV cache: the keys and values of every running sequence live in fixed-size blocks of
// one pool, each sequence holding a table of its blocks (vLLM's PagedAttention layout), so memory
// follows what sequences use rather than slots × context. Full blocks are published under a hash
// chained over every token before them; a new sequence whose tokens start the same way takes those
// blocks instead of computing them again (prefix caching). Blocks nobody holds stay published
// until the pool needs them, least recently used first.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/model.hpp"

namespace llorch::engine {

using BlockId = std::uint32_t;

// Storage and bookkeeping of the blocks. Not thread-safe: the engine loop owns it (the pool's
// threads only read and write rows of blocks handed out to them).
class KvBlockPool {
 public:
  static constexpr std::size_t kBlockTokens = 16;

  // A pool holding `tokens` positions (rounded up to whole blocks) in `type`: f32, f16 or q8_0
  // (q8_0 needs a head size that is a multiple of 32; std::invalid_argument otherwise).
  // `prefix_caching`: publish full blocks for other sequences to reuse.
  KvBlockPool(const ModelConfig& config, TensorType type, std::size_t tokens, bool prefix_caching);
  ~KvBlockPool();
  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  TensorType type() const noexcept { return type_; }
  std::size_t row_bytes() const noexcept { return row_bytes_; }  // one position of one layer
  std::size_t total_blocks() const noexcept { return blocks_.size(); }
  // Blocks a sequence can get now: never handed out, or published and held by nobody.
  std::size_t available_blocks() const noexcept { return free_.size() + lru_.size(); }
  std::size_t used_blocks() const noexcept { return total_blocks() - available_blocks(); }
  std::size_t bytes() const noexcept { return 2 * bytes_per_half_; }
  static std::size_t blocks_for(std::size_t tokens) noexcept {
    return (tokens + kBlockTokens - 1) / kBlockTokens;
  }

  std::byte* key(std::size_t layer, BlockId block, std::size_t offset) const noexcept {
    return keys_.get() + row_index(layer, block, offset) * row_bytes_;
  }
  std::byte* value(std::size_t layer, BlockId block, std::size_t offset) const noexcept {
    return values_.get() + row_index(layer, block, offset) * row_bytes_;
  }
  // Stores one position's kv_dim keys and values, converted to type().
  void store(std::size_t layer, BlockId block, std::size_t offset, const float* k,
             const float* v) const noexcept;
  // Copies the first `count` positions of every layer from one block to another.
  void copy(BlockId from, BlockId to, std::size_t count) const noexcept;

  // A block for one holder: a never-used one first, else the least recently used published one
  // (unpublished). None when every block is held.
  std::optional<BlockId> allocate();
  void retain(BlockId block);
  void release(BlockId block);
  std::size_t holders(BlockId block) const noexcept { return blocks_[block].holders; }

  // Prefix caching. The hash of a full block: its tokens chained onto the hash of the blocks
  // before it (`parent`, 0 for the first), so equal tokens after different prefixes differ.
  static std::uint64_t chain(std::uint64_t parent, std::span<const TokenId> tokens) noexcept;
  // The published block with this hash whose tokens and parent match (the hash is not trusted
  // alone), retained for the caller; none if there is none.
  std::optional<BlockId> find(std::uint64_t hash, std::uint64_t parent,
                              std::span<const TokenId> tokens);
  // Publishes a full block held by the caller (a hash already published keeps its block).
  void publish(BlockId block, std::uint64_t hash, std::uint64_t parent,
               std::span<const TokenId> tokens);
  // Takes a block out of the prefix cache (its holder is about to overwrite it).
  void unpublish(BlockId block);
  bool prefix_caching() const noexcept { return prefix_caching_; }

 private:
  struct Block {
    std::uint32_t holders = 0;
    bool published = false;
    std::uint64_t hash = 0, parent = 0;
    std::array<TokenId, kBlockTokens> tokens{};
    std::list<BlockId>::iterator lru;  // valid while published and held by nobody
  };
  std::size_t row_index(std::size_t layer, BlockId block, std::size_t offset) const noexcept {
    return (layer * blocks_.size() + block) * kBlockTokens + offset;
  }

  TensorType type_;
  std::size_t layers_, kv_dim_, row_bytes_, bytes_per_half_;
  bool prefix_caching_;
  // Left uninitialised: pages the kernel maps on first write, so resident memory follows use.
  std::unique_ptr<std::byte[]> keys_, values_;
  std::vector<Block> blocks_;
  std::vector<BlockId> free_;  // never published, held by nobody
  std::list<BlockId> lru_;     // published, held by nobody; front: least recently used
  std::unordered_map<std::uint64_t, BlockId> index_;
};

// One sequence's view of the cache: its block table and the tokens its positions hold. The forward
// pass writes and reads positions through it. Not thread-safe.
class KvCache {
 public:
  // A sequence in a shared pool.
  explicit KvCache(KvBlockPool& pool);
  // A cache with a pool of its own for one whole context (the single-sequence API, tools, tests).
  explicit KvCache(const ModelConfig& config, TensorType type = TensorType::f32);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  TensorType type() const noexcept { return pool_->type(); }
  const KvBlockPool& pool() const noexcept { return *pool_; }

  // Makes positions [pos, pos + count) writable: allocates blocks up to them, and replaces a
  // block they touch that others hold (a shared prefix) by a private copy; forgets the tokens from
  // `pos` on. False when the pool ran out of blocks (the blocks got so far are kept).
  bool prepare(std::size_t pos, std::size_t count);
  void store(std::size_t layer, std::size_t pos, const float* k, const float* v) const noexcept {
    pool_->store(layer, table_[pos / kBlock], pos % kBlock, k, v);
  }
  const std::byte* key(std::size_t layer, std::size_t pos) const noexcept {
    return pool_->key(layer, table_[pos / kBlock], pos % kBlock);
  }
  const std::byte* value(std::size_t layer, std::size_t pos) const noexcept {
    return pool_->value(layer, table_[pos / kBlock], pos % kBlock);
  }
  // After a forward pass wrote `tokens` at positions pos…: records them and publishes the blocks
  // they filled (only then are those blocks' contents whole).
  void commit(std::span<const TokenId> tokens, std::size_t pos);

  // On an empty cache: takes the published blocks that hold the longest start of `tokens`, at most
  // `limit` tokens' worth (whole blocks). Returns how many tokens they hold.
  std::size_t adopt_prefix(std::span<const TokenId> tokens, std::size_t limit);
  // Gives every block back to the pool (published ones stay cached for others).
  void clear() noexcept;

  // The tokens whose keys and values positions 0… hold.
  const std::vector<TokenId>& tokens() const noexcept { return tokens_; }

 private:
  static constexpr std::size_t kBlock = KvBlockPool::kBlockTokens;
  std::uint64_t parent_hash(std::size_t block) const noexcept {
    return block == 0 ? 0 : hashes_[block - 1];
  }

  std::unique_ptr<KvBlockPool> own_pool_;
  KvBlockPool* pool_;
  std::vector<BlockId> table_;
  std::vector<TokenId> tokens_;
  std::vector<std::uint64_t> hashes_;  // chained hash of each full block of tokens_
};

}  // namespace llorch::engine
