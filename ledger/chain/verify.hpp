#pragma once
// `ledger verify`: revalidates a node's stored main chain from genesis with the full consensus
// rules, replaying it into a scratch in-memory chain, so a corrupted or tampered database is
// found without trusting anything it says about itself.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/core/expected.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

struct VerifyResult {
    std::uint64_t tip_height = 0;  // of the stored main chain
    std::uint64_t verified = 0;    // blocks that passed, genesis included
    // The first block that failed, if any.
    std::optional<std::uint64_t> bad_height;
    std::string bad_hash;
    std::string reason;
};

// Reads DB_PATH (a node's ledger.sqlite). `expected_genesis` (if set) must be its block 0.
// `progress(done, total)` is called now and then. An error means the check could not run
// (unreadable database, or a pruned store: reason "pruned"); an invalid chain is a successful
// result with bad_height set.
Expected<VerifyResult> VerifyStoredChain(
    const std::string& db_path, const std::optional<Hash256>& expected_genesis,
    const std::function<void(std::uint64_t, std::uint64_t)>& progress);

}  // namespace fwchain::ledger
