#pragma once
// A product's rollouts as the chain shows them (GET /v1/rollouts, `ledger status --product`):
// per release, its policy (the copy in the release tx), the approvals, operator controls and
// device outcomes confirmed on the main chain, and the decision of common/core/rollout.hpp.
#include <cstdint>
#include <string>

#include "common/core/json.hpp"
#include "common/core/metadata.hpp"
#include "ledger/chain/store.hpp"

namespace fwchain::ledger {

// Newest release first. `now` sets the stage in force; everything else is the chain's.
Expected<Json> RolloutReport(ChainStore& store, const Root& root, const std::string& product,
                             std::int64_t now);

}  // namespace fwchain::ledger
