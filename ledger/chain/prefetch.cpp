#include "ledger/chain/prefetch.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "ledger/chain/tx_codec.hpp"

namespace fwchain::ledger {

BlockPrefetcher::BlockPrefetcher(Fetch fetch, std::size_t depth, unsigned workers,
                                 EncodedBlock::AssumeValid assume_valid)
    : fetch_(std::move(fetch)),
      depth_(std::max<std::size_t>(depth, 1)),
      assume_valid_(std::move(assume_valid)) {
    if (workers == 0) workers = std::clamp(std::thread::hardware_concurrency(), 1u, 16u);
    fetcher_ = std::thread([this] { FetchLoop(); });
    for (unsigned i = 0; i < workers; ++i) parsers_.emplace_back([this] { ParseLoop(); });
}

BlockPrefetcher::~BlockPrefetcher() {
    {
        MutexLock lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    fetcher_.join();
    for (auto& t : parsers_) t.join();
}

void BlockPrefetcher::EndAt(std::size_t index) {
    if (!end_ || index < *end_) end_ = index;
    cv_.notify_all();
}

void BlockPrefetcher::FetchLoop() {
    for (std::size_t i = 0;; ++i) {
        {
            UniqueLock lock(mu_);
            cv_.wait(lock, [&]() FW_REQUIRES(mu_) {
                return stop_ || (end_ && i >= *end_) || i < next_ + depth_;
            });
            if (stop_ || (end_ && i >= *end_)) return;
        }
        auto json = fetch_(i);
        MutexLock lock(mu_);
        if (end_ && i >= *end_) return;  // an earlier block failed meanwhile
        if (!json) {
            parsed_.emplace(i, Item{Fail(json.error()), false});
            return EndAt(i + 1);
        }
        if (!*json) return EndAt(i);
        to_parse_.emplace_back(i, std::move(**json));
        cv_.notify_all();
    }
}

void BlockPrefetcher::ParseLoop() {
    // The thread that connects the parsed blocks is the pipeline's serial stage: a parser yields
    // the core to it (nice +5 for this thread only, as the miner does; failure is harmless).
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    (void)setpriority(PRIO_PROCESS, tid, 5);
    while (true) {
        std::pair<std::size_t, Json> work;
        {
            UniqueLock lock(mu_);
            // Once the end is known, every block before it has been queued: drain, then go.
            cv_.wait(lock, [&]() FW_REQUIRES(mu_) { return stop_ || !to_parse_.empty() || end_; });
            if (stop_ || to_parse_.empty()) return;
            work = std::move(to_parse_.front());
            to_parse_.pop_front();
        }
        // One block per worker: the workers already keep every core busy.
        // The document is this worker's: the txs' strings and bodies move into the block.
        Item item{EncodedBlock::Parse(std::move(work.second), 1, &assume_valid_), true};
        // What the store writes for each tx, here rather than on the thread that connects.
        if (item.block) item.block->SetStoredTxs(StoredTxsOf(item.block->block()));
        MutexLock lock(mu_);
        if (!item.block) EndAt(work.first + 1);
        parsed_.emplace(work.first, std::move(item));
        cv_.notify_all();
    }
}

std::size_t BlockPrefetcher::ReadyRun(std::size_t want) const {
    std::size_t n = 0;
    if (end_) want = std::min(want, *end_ > next_ ? *end_ - next_ : 0);
    for (auto it = parsed_.find(next_); it != parsed_.end() && it->first == next_ + n && n < want;
         ++it) {
        ++n;
        if (!it->second.block) break;
    }
    return n;
}

BlockPrefetcher::Batch BlockPrefetcher::NextBatch(std::size_t max) {
    Batch batch;
    for (auto& item : TakeItems(max)) {
        if (!item.block) {
            batch.error = item.block.error();
            batch.fetch_failed = !item.fetched;
            break;  // always the last item
        }
        batch.blocks.push_back(std::move(*item.block));
    }
    return batch;
}

std::vector<BlockPrefetcher::Item> BlockPrefetcher::TakeItems(std::size_t max) {
    std::vector<Item> out;
    const std::size_t want = std::clamp<std::size_t>(max, 1, depth_);
    UniqueLock lock(mu_);
    // A full batch (or all that is left): connecting many blocks per SQLite transaction writes
    // each index page once per batch instead of once per block.
    cv_.wait(lock, [&]() FW_REQUIRES(mu_) {
        const std::size_t n = ReadyRun(want);
        if (n == want) return true;
        if (n > 0 && !parsed_.at(next_ + n - 1).block) return true;  // ends with an error
        return end_ && next_ + n >= *end_;
    });
    const std::size_t n = ReadyRun(want);
    for (std::size_t k = 0; k < n; ++k) {
        auto it = parsed_.find(next_);
        out.push_back(std::move(it->second));
        parsed_.erase(it);
        ++next_;
    }
    if (!out.empty() && !out.back().block) end_ = next_;  // nothing after an error
    cv_.notify_all();
    return out;
}

}  // namespace fwchain::ledger
