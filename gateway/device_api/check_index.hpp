#pragma once
// Pre-serialised answers to POST /v1/check (DESIGN.md §6 step 2): built by the sync thread each
// time what the gateway offers changes, read lock-free-ish by the request threads, so a check
// costs a map lookup and a copy: no disk, ledger or signature work.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/core/envelope.hpp"

namespace fwchain::gateway {

struct Offer {
    std::string product;
    std::vector<std::string> hardware;
    std::uint64_t sequence = 0;
    Envelope manifest;
    // The release tx on the ledger: {"tx", "height", "proof"} (docs/protocol.md "Ledger proofs").
    Json ledger = nullptr;
};

// The ledger's main-chain headers as the gateway last saw them, hex, indexed by height.
using HeaderChain = std::vector<std::string>;

class CheckIndex {
  public:
    // roots: every trusted root envelope in ascending version order (versions 1..N).
    CheckIndex(const std::string& gateway_id, const std::vector<Envelope>& roots,
               const Envelope& timestamp, const std::vector<Offer>& offers,
               std::shared_ptr<const HeaderChain> headers = nullptr);

    // The answer for a device; the manifest is included only when newer than its sequence.
    const std::string& Answer(const std::string& product, const std::string& hardware,
                              std::uint64_t sequence, std::uint64_t root_version) const;
    // The same answer with the ledger proof of the manifest's release for a device whose
    // verified checkpoint is at `checkpoint_height`. Built per request from memory.
    std::string AnswerWithProof(const std::string& product, const std::string& hardware,
                                std::uint64_t sequence, std::uint64_t root_version,
                                std::uint64_t checkpoint_height) const;
    std::size_t offer_count() const { return best_.size(); }

  private:
    struct Best {
        std::uint64_t sequence = 0;
        std::vector<std::string> by_root_version;  // answers with the manifest
        std::string manifest;                      // canonical envelope
        Json ledger;                               // {"tx","height","proof"} or null
    };
    const Best* Find(const std::string& product, const std::string& hardware,
                     std::uint64_t sequence) const;
    std::size_t RootIndex(std::uint64_t root_version) const;

    std::uint64_t max_root_version_ = 0;
    std::string head_;                     // {"gateway_id":...
    std::string tail_;                     // ,"timestamp":...}
    std::vector<std::string> roots_part_;  // ,"roots":[...] by device root version
    std::shared_ptr<const HeaderChain> headers_;
    std::vector<std::string> no_manifest_;  // indexed by min(root_version, max)
    std::map<std::string, Best> best_;      // key: product + '\n' + hardware
};

}  // namespace fwchain::gateway
