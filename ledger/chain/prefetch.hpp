#pragma once
// Overlaps the two halves of validating a run of blocks (sync from a peer, `ledger verify`):
// one thread fetches the next blocks in order, worker threads parse them (EncodedBlock::Parse,
// which verifies every tx signature), one block per worker at a time, while the caller connects
// the current ones to the chain. Order is kept; the fetcher stays at most `depth` blocks ahead.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "common/core/mutex.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

// How far a syncing node parses ahead, and how many blocks it connects per SQLite transaction.
inline constexpr std::size_t kSyncPrefetchDepth = 32;
inline constexpr std::size_t kSyncBatchBlocks = 16;

class BlockPrefetcher {
  public:
    // fetch(i) returns the i-th block's JSON, nullopt after the last one, or an error. It is
    // called on the fetcher thread, for i = 0, 1, 2, ... in order.
    using Fetch = std::function<Expected<std::optional<Json>>(std::size_t index)>;

    // `workers` 0 means one per core. `assume_valid` (may be empty) names the blocks whose tx
    // signatures are not checked (EncodedBlock::Parse); it is called on the worker threads.
    explicit BlockPrefetcher(Fetch fetch, std::size_t depth = kSyncPrefetchDepth,
                             unsigned workers = 0, EncodedBlock::AssumeValid assume_valid = {});
    ~BlockPrefetcher();
    BlockPrefetcher(const BlockPrefetcher&) = delete;
    BlockPrefetcher& operator=(const BlockPrefetcher&) = delete;

    // The next `max` blocks in order (fewer at the end or up to an error), for
    // Chain::SubmitBlocks. Nothing follows an error.
    struct Batch {
        std::vector<EncodedBlock> blocks;  // parsed and verified, in order
        std::optional<Error> error;        // the stream ends here, after `blocks`
        bool fetch_failed = false;         // the error is the fetch's, not a block's
        bool empty() const { return blocks.empty() && !error; }  // after the last block
    };
    Batch NextBatch(std::size_t max);

  private:
    struct Item {
        Expected<EncodedBlock> block;  // EncodedBlock::Parse's result, or the fetch error
        bool fetched = true;           // false when fetch failed (the error is not the block's)
    };

    void FetchLoop();
    void ParseLoop();
    // Items next_.. that are ready, up to `want`, stopping after an error.
    std::size_t ReadyRun(std::size_t want) const FW_REQUIRES(mu_);
    std::vector<Item> TakeItems(std::size_t max);
    void EndAt(std::size_t index) FW_REQUIRES(mu_);

    Fetch fetch_;
    std::size_t depth_;
    EncodedBlock::AssumeValid assume_valid_;
    Mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::size_t, Json>> to_parse_ FW_GUARDED_BY(mu_);
    std::map<std::size_t, Item> parsed_ FW_GUARDED_BY(mu_);
    std::size_t next_ FW_GUARDED_BY(mu_) = 0;  // the next index the caller gets
    // One past the last index that will ever be ready.
    std::optional<std::size_t> end_ FW_GUARDED_BY(mu_);
    bool stop_ FW_GUARDED_BY(mu_) = false;
    std::thread fetcher_;
    std::vector<std::thread> parsers_;
};

}  // namespace fwchain::ledger
