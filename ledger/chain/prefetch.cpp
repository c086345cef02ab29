#include "ledger/chain/prefetch.hpp"

#include <algorithm>

namespace fwchain::ledger {

BlockPrefetcher::BlockPrefetcher(Fetch fetch, std::size_t depth)
    : fetch_(std::move(fetch)), depth_(depth == 0 ? 1 : depth) {
    thread_ = std::thread([this] { Run(); });
}

BlockPrefetcher::~BlockPrefetcher() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void BlockPrefetcher::Run() {
    auto finish = [this](std::optional<Item> last) {
        std::lock_guard<std::mutex> lock(mu_);
        if (last) ready_.push_back(std::move(*last));
        done_ = true;
        cv_.notify_all();
    };
    for (std::size_t i = 0;; ++i) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stop_ || ready_.size() < depth_; });
            if (stop_) return;
        }
        auto json = fetch_(i);
        if (!json) return finish(Item{Fail(json.error()), false});
        if (!*json) return finish(std::nullopt);
        Item item{EncodedBlock::Parse(**json), true};
        if (!item.block) return finish(std::move(item));
        std::lock_guard<std::mutex> lock(mu_);
        ready_.push_back(std::move(item));
        cv_.notify_all();
    }
}

std::optional<BlockPrefetcher::Item> BlockPrefetcher::Next() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !ready_.empty() || done_; });
    if (ready_.empty()) return std::nullopt;
    Item item = std::move(ready_.front());
    ready_.pop_front();
    cv_.notify_all();
    return item;
}

std::vector<BlockPrefetcher::Item> BlockPrefetcher::NextBatch(std::size_t max) {
    std::vector<Item> out;
    const std::size_t want = std::clamp<std::size_t>(max, 1, depth_);
    std::unique_lock<std::mutex> lock(mu_);
    // A full batch (or the end): connecting many blocks per SQLite transaction writes each
    // index page once per batch instead of once per block.
    cv_.wait(lock, [&] {
        return ready_.size() >= want || done_ || (!ready_.empty() && !ready_.back().block);
    });
    while (!ready_.empty() && out.size() < want) {
        out.push_back(std::move(ready_.front()));
        ready_.pop_front();
    }
    cv_.notify_all();
    return out;
}

}  // namespace fwchain::ledger
