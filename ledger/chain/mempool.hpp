#pragma once
// Validated txs waiting for a block, in arrival order (a device's counters must reach a block in
// the order they were accepted). Not thread-safe: the Chain guards it.
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/tx.hpp"

namespace fwchain::ledger {

struct MempoolEntry {
    std::string id;
    Tx tx;
    std::size_t size = 0;  // canonical JSON bytes, for the block size budget
};

class Mempool {
  public:
    explicit Mempool(std::size_t max_txs) : max_txs_(max_txs) {}

    bool Has(const std::string& id) const { return by_id_.count(id) != 0; }
    const Tx* Get(const std::string& id) const;
    bool Full() const { return order_.size() >= max_txs_; }
    std::size_t Size() const { return order_.size(); }
    bool Empty() const { return order_.empty(); }

    // Caller has validated the tx; returns false when it is a duplicate or the pool is full.
    bool Add(MempoolEntry entry);
    // Entries in arrival order.
    const std::deque<MempoolEntry>& Entries() const { return order_; }
    // Replaces the content (after a block: the survivors, revalidated).
    void Reset(std::deque<MempoolEntry> entries);

  private:
    std::size_t max_txs_;
    std::deque<MempoolEntry> order_;
    std::unordered_map<std::string, std::size_t> by_id_;  // id -> count (0/1), for lookups
};

}  // namespace fwchain::ledger
