#pragma once
// What the gateway has verified of the vendor's metadata: the root chain, the newest timestamp
// and the release manifests. Persisted under DATA/trusted so a restart serves devices at once.
// Owned by the sync thread only.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/core/metadata.hpp"

namespace fwchain::gateway {

class TrustStore {
  public:
    // Loads DIR/trusted; on first start pins `initial_root_file` (must verify as a self-signed
    // root). Errors if neither exists.
    static Expected<std::unique_ptr<TrustStore>> Open(const std::string& data_dir,
                                                      const std::string& initial_root_file,
                                                      std::int64_t now);

    const Root& root() const { return root_; }
    const std::vector<Envelope>& roots() const { return roots_; }
    const Timestamp* timestamp() const { return has_timestamp_ ? &timestamp_ : nullptr; }
    // product -> sequence -> release
    const std::map<std::string, std::map<std::uint64_t, Release>>& releases() const {
        return releases_;
    }
    std::uint64_t LatestKnown(const std::string& product) const;

    Status AcceptRoots(const std::vector<Envelope>& newer, std::int64_t now);
    // Returns true when the timestamp is newer than the one held.
    Expected<bool> AcceptTimestamp(const Envelope& env, std::int64_t now);
    Expected<Release> AcceptRelease(const Envelope& env, std::int64_t now);

  private:
    explicit TrustStore(std::string dir) : dir_(std::move(dir)) {}
    Status LoadRoots(const std::string& initial_root_file, std::int64_t now);

    std::string dir_;  // DATA/trusted
    Root root_;
    std::vector<Envelope> roots_;
    Timestamp timestamp_;
    bool has_timestamp_ = false;
    std::map<std::string, std::map<std::uint64_t, Release>> releases_;
};

}  // namespace fwchain::gateway
