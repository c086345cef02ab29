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
};

class CheckIndex {
  public:
    // roots: every trusted root envelope in ascending version order (versions 1..N).
    CheckIndex(const std::string& gateway_id, const std::vector<Envelope>& roots,
               const Envelope& timestamp, const std::vector<Offer>& offers);

    // The answer for a device; the manifest is included only when newer than its sequence.
    const std::string& Answer(const std::string& product, const std::string& hardware,
                              std::uint64_t sequence, std::uint64_t root_version) const;
    std::size_t offer_count() const { return best_.size(); }

  private:
    struct Best {
        std::uint64_t sequence = 0;
        std::vector<std::string> by_root_version;  // answers with the manifest
    };
    std::size_t RootIndex(std::uint64_t root_version) const;

    std::uint64_t max_root_version_ = 0;
    std::vector<std::string> no_manifest_;  // indexed by min(root_version, max)
    std::map<std::string, Best> best_;      // key: product + '\n' + hardware
};

}  // namespace fwchain::gateway
