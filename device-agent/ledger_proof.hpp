#pragma once
// `require_ledger_proof` (DESIGN.md §3 rule 6, docs/protocol.md "Ledger proofs for devices"): the
// device checks itself that the release tx of the manifest it is about to install is in a block
// with enough proof of work on top, starting from a checkpoint header it already trusts. Pure
// functions over the check answer; the checkpoint file is the only state.
#include <cstdint>
#include <string>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "common/core/metadata.hpp"

namespace fwchain::device {

inline constexpr std::size_t kMaxProofHeaders = 20000;  // ~2.7 MB of hex; bounded answer size
inline constexpr std::size_t kMaxProofSteps = 32;       // a 2000-tx block needs 11

// The newest header the device has verified (at provisioning: the genesis block).
struct LedgerCheckpoint {
    std::uint64_t height = 0;
    std::string hash;  // hex

    Json ToJson() const { return Json{{"height", height}, {"hash", hash}}; }
    static Expected<LedgerCheckpoint> FromJson(const Json& j);
};

struct LedgerPolicy {
    std::uint32_t min_bits = 12;        // device.json ledger_min_bits (the genesis difficulty)
    std::uint32_t confirmations = 2;    // headers at or above the tx's block
    std::uint64_t finality_depth = 64;  // the checkpoint stays this far below the tip
};

// Checks the answer's `ledger` object for `release` (already verified against `root`) and returns
// the checkpoint the device may advance to: at most finality_depth below the tip and below the
// tx's block (so the same release can be proven again after a failed download).
// Reasons: "ledger-proof-missing", "ledger-bad-proof" (shape), "ledger-bad-tx" (not this
// release or not by a release key), "ledger-bad-link" (headers do not chain from the
// checkpoint), "ledger-bad-pow" (a hash misses its bits, or bits below the minimum),
// "ledger-bad-merkle", "ledger-too-few-confirmations".
Expected<LedgerCheckpoint> VerifyLedgerProof(const Root& root, const Release& release,
                                             const Json& ledger, const LedgerCheckpoint& checkpoint,
                                             const LedgerPolicy& policy);

// DIR/ledger_checkpoint.json, or `initial` (from device.json) when the file does not exist.
Expected<LedgerCheckpoint> LoadLedgerCheckpoint(const std::string& state_dir,
                                                const LedgerCheckpoint& initial);
Status SaveLedgerCheckpoint(const std::string& state_dir, const LedgerCheckpoint& checkpoint);

}  // namespace fwchain::device
