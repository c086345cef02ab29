#include "ledger/chain/mempool.hpp"

namespace fwchain::ledger {

const Tx* Mempool::Get(const std::string& id) const {
    if (!Has(id)) return nullptr;
    for (const auto& e : order_) {
        if (e.id == id) return &e.tx;
    }
    return nullptr;
}

bool Mempool::Add(MempoolEntry entry) {
    if (Full() || Has(entry.id)) return false;
    by_id_[entry.id] = 1;
    order_.push_back(std::move(entry));
    return true;
}

void Mempool::Reset(std::deque<MempoolEntry> entries) {
    order_ = std::move(entries);
    by_id_.clear();
    for (const auto& e : order_) by_id_[e.id] = 1;
}

}  // namespace fwchain::ledger
