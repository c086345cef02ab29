#pragma once
// Overlaps the two halves of validating a run of blocks (sync from a peer, `ledger verify`):
// a background thread fetches the next blocks and parses them (EncodedBlock::Parse, which
// verifies every tx signature on all cores) while the caller connects the current one to the
// chain. Order is kept; the thread stays at most `depth` blocks ahead.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

// How far a syncing node parses ahead, and how many blocks it connects per SQLite transaction.
inline constexpr std::size_t kSyncPrefetchDepth = 16;
inline constexpr std::size_t kSyncBatchBlocks = 16;

class BlockPrefetcher {
  public:
    // fetch(i) returns the i-th block's JSON, nullopt after the last one, or an error. It runs
    // on the background thread.
    using Fetch = std::function<Expected<std::optional<Json>>(std::size_t index)>;

    struct Item {
        Expected<EncodedBlock> block;  // EncodedBlock::Parse's result, or the fetch error
        bool fetched = true;           // false when fetch failed (the error is not the block's)
    };

    explicit BlockPrefetcher(Fetch fetch, std::size_t depth = 4);
    ~BlockPrefetcher();
    BlockPrefetcher(const BlockPrefetcher&) = delete;
    BlockPrefetcher& operator=(const BlockPrefetcher&) = delete;

    // The next block in order; nullopt after the last. Nothing follows an item with an error.
    std::optional<Item> Next();
    // The next `max` blocks (fewer at the end or up to an error), for Chain::SubmitBlocks.
    // Empty after the last block.
    std::vector<Item> NextBatch(std::size_t max);

  private:
    void Run();

    Fetch fetch_;
    std::size_t depth_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Item> ready_;
    bool done_ = false;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace fwchain::ledger
