#pragma once
// `require_ledger_proof` (DESIGN.md §3 rule 6, docs/protocol.md "Ledger proofs for devices"): the
// device checks itself that the release tx of the manifest it is about to install is in a block
// with enough proof of work on top, starting from a checkpoint header it already trusts. Pure
// functions over the check answer; the checkpoint file is the only state.
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "common/core/metadata.hpp"

namespace fwchain::device {

// A proof carries the headers from its anchor to at most kProofWindow above the release's block.
// With the vendor's checkpoint policy (vendor-server serve: margin 64, interval 256) a gateway
// sends at most about 64 + 256 + 64 headers; the hard cap keeps any answer far below the device's
// 4 MiB limit (a header with its signature is ~420 bytes of JSON: 8,000 are ~3.4 MB).
inline constexpr std::size_t kMaxProofHeaders = 8000;
inline constexpr std::uint64_t kProofWindow = 64;
inline constexpr std::size_t kMaxProofSteps = 32;       // a 2000-tx block needs 11
inline constexpr std::size_t kMaxProofAdmissions = 64;  // distinct miners a proof may name
inline constexpr std::size_t kMaxProofApprovals = 100;  // kMaxMinApprovals

// The newest header the device has verified (at provisioning: the genesis block or the vendor's
// signed checkpoint).
struct LedgerCheckpoint {
    std::uint64_t height = 0;
    std::string hash;  // hex

    Json ToJson() const { return Json{{"height", height}, {"hash", hash}}; }
    static Expected<LedgerCheckpoint> FromJson(const Json& j);
};

struct LedgerPolicy {
    std::uint32_t min_bits = 12;      // device.json ledger_min_bits (the genesis difficulty)
    std::uint32_t confirmations = 2;  // headers at or above the tx's block
    std::uint32_t distinct_miners =
        2;  // device.json ledger_min_miners: k distinct miners among them
    std::uint64_t finality_depth = 64;  // the checkpoint stays this far below the last header
    // device.json ledger_genesis_miners (written by vendor-server provision): the miners the
    // chain starts with; every other miner must show its admission.
    std::vector<PublicKey> genesis_miners;
};

// Checks the answer's `ledger` object for `release` (already verified against `root` and `ts`)
// and returns the checkpoint the device may advance to. The anchor is the block the timestamp
// names for this manifest when it names one, else the newer of `checkpoint` and the timestamp's
// signed checkpoint. Every header must be signed by its miner, every miner admitted (genesis, or
// an `admit` tx of role gateway by an admission key of `root`, in a header of the proof below the
// first block it mined, or older than the anchor), and the release's block must have
// `confirmations` headers by at least `distinct_miners` distinct miners.
// Reasons: "ledger-proof-missing", "ledger-bad-proof" (shape, too many headers),
// "ledger-bad-tx" (not this release or not by a release key), "ledger-bad-link" (headers do not
// chain from the anchor), "ledger-bad-pow" (a hash misses its bits, or bits below the minimum),
// "ledger-bad-miner-sig", "ledger-unadmitted-miner", "ledger-bad-merkle",
// "ledger-too-few-confirmations", "ledger-too-few-miners", "ledger-too-few-approvals" (a release
// with min_approvals whose proof shows fewer approve txs by approver keys of `root`).
Expected<LedgerCheckpoint> VerifyLedgerProof(const Root& root, const Timestamp& ts,
                                             const Release& release, const Json& ledger,
                                             const LedgerCheckpoint& checkpoint,
                                             const LedgerPolicy& policy);

// DIR/ledger_checkpoint.json, or `initial` (from device.json) when the file does not exist.
Expected<LedgerCheckpoint> LoadLedgerCheckpoint(const std::string& state_dir,
                                                const LedgerCheckpoint& initial);
Status SaveLedgerCheckpoint(const std::string& state_dir, const LedgerCheckpoint& checkpoint);

}  // namespace fwchain::device
