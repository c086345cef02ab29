#pragma once
// Pre-serialised answers to POST /v1/check (DESIGN.md §6 step 2): built by the sync thread each
// time what the gateway offers changes, read lock-free-ish by the request threads, so a check
// costs a map lookup and a copy: no disk, ledger or signature work.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/envelope.hpp"
#include "common/core/metadata.hpp"

namespace fwchain::gateway {

struct Offer {
    std::string product;
    std::vector<std::string> hardware;
    std::uint64_t sequence = 0;
    Envelope manifest;
    // The release tx on the ledger: {"tx", "height", "proof"} (docs/protocol.md "Ledger proofs").
    Json ledger = nullptr;
    // The rollout stage in force: devices whose bucket is below percent * 100 (rollout.hpp).
    std::uint32_t percent = 100;
};

// One main-chain header with its miner's signature, binary (200 bytes).
struct ChainHeader {
    std::array<std::uint8_t, 136> header{};  // ledger::kHeaderSize
    Signature miner_sig{};                   // by the header's miner over its hash
    bool operator==(const ChainHeader&) const = default;
};
// The main-chain headers device proofs can use, by height. Not the whole chain (it grows
// without end and the gateway's node already stores it): the stretches ProofRanges names, read
// from the ledger when what is offered or the tip changes.
struct ProofHeaders {
    std::uint64_t tip = 0;  // the main chain's tip height when these were read
    std::map<std::uint64_t, ChainHeader> by_height;
    const ChainHeader* Find(std::uint64_t height) const {
        auto it = by_height.find(height);
        return it == by_height.end() ? nullptr : &it->second;
    }
    bool operator==(const ProofHeaders&) const = default;
};
// Gateway miner key (hex) -> its admission {"tx","height","proof"} (docs/protocol.md).
using Admissions = std::map<std::string, Json>;

// Most headers one proof carries (docs/protocol.md "Ledger proofs": the vendor's checkpoint
// policy keeps a proof near 400); above it the gateway sends no proof rather than an answer the
// device cannot read.
inline constexpr std::size_t kMaxProofHeaders = 8000;
// Headers sent above the release's block: enough for any device's confirmations and distinct
// miners, and for its checkpoint to move up to just below the release's block.
inline constexpr std::uint64_t kProofWindow = 64;

// A closed range of heights [first, last].
struct HeightRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    bool operator==(const HeightRange&) const = default;
};
// The headers AnswerWithProof may read for `offers` when the chain's tip is at `tip`: for each
// offer with a ledger record, from the lowest anchor a device can be given (the vendor's
// checkpoint + 1, or 1 without one, but at most kMaxProofHeaders below the end) to the end of
// its proof; the block the timestamp names for it; and the block of each admission in
// `admissions`. Overlapping ranges are not merged.
std::vector<HeightRange> ProofRanges(const Envelope& timestamp, const std::vector<Offer>& offers,
                                     std::uint64_t tip, const Admissions* admissions);

class CheckIndex {
  public:
    // roots: every trusted root envelope in ascending version order (versions 1..N).
    CheckIndex(const std::string& gateway_id, const std::vector<Envelope>& roots,
               const Envelope& timestamp, const std::vector<Offer>& offers,
               std::shared_ptr<const ProofHeaders> headers = nullptr,
               std::shared_ptr<const Admissions> admissions = nullptr);

    // The answer for a device: the newest release newer than its sequence whose rollout stage
    // holds `device_id` (docs/rollouts.md), or no manifest.
    const std::string& Answer(const std::string& product, const std::string& hardware,
                              std::uint64_t sequence, std::uint64_t root_version,
                              const std::string& device_id = "") const;
    // The same answer with the ledger proof of the manifest's release for a device whose
    // verified checkpoint is at `checkpoint_height`: headers from the anchor the device will use
    // (the release's block when the timestamp names it, else the newer of the device's and the
    // timestamp's checkpoint) to kProofWindow above the release, and the admissions of their
    // miners. Built per request from memory; no proof when a header it needs is not held.
    std::string AnswerWithProof(const std::string& product, const std::string& hardware,
                                std::uint64_t sequence, std::uint64_t root_version,
                                std::uint64_t checkpoint_height,
                                const std::string& device_id = "") const;
    // Releases offered, over every product and hardware.
    std::size_t offer_count() const;

  private:
    struct Best {
        std::uint64_t sequence = 0;
        std::uint32_t percent = 100;
        std::string product;
        std::vector<std::string> by_root_version;  // answers with the manifest
        std::string manifest;                      // canonical envelope
        Json ledger;                               // {"tx","height","proof"} or null
    };
    const Best* Find(const std::string& product, const std::string& hardware,
                     std::uint64_t sequence, const std::string& device_id) const;
    std::size_t RootIndex(std::uint64_t root_version) const;

    std::uint64_t max_root_version_ = 0;
    std::string head_;                     // {"gateway_id":...
    std::string tail_;                     // ,"timestamp":...}
    std::vector<std::string> roots_part_;  // ,"roots":[...] by device root version
    std::shared_ptr<const ProofHeaders> headers_;
    std::shared_ptr<const Admissions> admissions_;
    std::optional<Timestamp> timestamp_;
    std::vector<std::string> no_manifest_;           // indexed by min(root_version, max)
    std::map<std::string, std::vector<Best>> best_;  // product + '\n' + hardware, newest first
};

}  // namespace fwchain::gateway
