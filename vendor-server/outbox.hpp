#pragma once
// Delivery of the outbox (release/admit txs) to a ledger node: POST /v1/tx in creation order.
#include <cstddef>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "vendor-server/catalog.hpp"

namespace fwchain::vendor {

struct SubmitReport {
    std::size_t accepted = 0;             // 200, or 409 duplicate (the ledger already has it)
    std::size_t rejected = 0;             // 400/403/other 4xx: marked rejected, never retried
    std::size_t pending = 0;              // left for the next round (ledger unreachable or 5xx)
    std::vector<std::string> rejections;  // "tx_id: reason: message"
    std::string network_error;            // why the round stopped early, if it did

    Json ToJson() const;
};

// Submits pending outbox rows to `ledger_url`. A network error or 5xx stops the round and
// keeps the rest pending (the ledger is down; order matters, so do not skip ahead). Fails only
// on catalog errors.
Expected<SubmitReport> SubmitOutbox(Catalog& catalog, const std::string& ledger_url);

}  // namespace fwchain::vendor
