#pragma once
// The vendor data directory (docs/protocol.md "Data directories"): paths, config.json, and the
// name rules for everything that becomes a path component or a ledger recipient.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain::vendor {

// Key roles stored under keys/ (the first five are root roles; node mines the vendor's blocks).
inline constexpr const char* kRootRole = "root";
inline constexpr const char* kReleaseRole = "release";
inline constexpr const char* kTimestampRole = "timestamp";
inline constexpr const char* kAdmissionRole = "admission";
inline constexpr const char* kApproverRole = "approver";
inline constexpr const char* kNodeKey = "node";

inline constexpr std::int64_t kDay = 24 * 3600;
inline constexpr std::int64_t kDefaultTimestampLifetime = kDay;
inline constexpr std::uint64_t kDefaultMaxImage = 1ull << 30;  // publish/upload size limit

class DataDir {
  public:
    explicit DataDir(std::string root) : root_(std::move(root)) {}

    const std::string& Root() const { return root_; }
    std::string Config() const { return root_ + "/config.json"; }
    std::string KeysDir() const { return root_ + "/keys"; }
    std::string Key(const std::string& name) const { return KeysDir() + "/" + name + ".key"; }
    std::string RootsDir() const { return root_ + "/metadata/root"; }
    std::string RootFile(std::uint64_t version) const {
        return RootsDir() + "/" + std::to_string(version) + ".json";
    }
    std::string TimestampFile() const { return root_ + "/metadata/timestamp.json"; }
    std::string ManifestsDir(const std::string& product) const {
        return root_ + "/manifests/" + product;
    }
    std::string ManifestFile(const std::string& product, std::uint64_t sequence) const {
        return ManifestsDir(product) + "/" + std::to_string(sequence) + ".json";
    }
    // Manifests signed by fewer release keys than the role's threshold wait here, one per
    // product, for the other key holders' signatures (vendor-server sign-release).
    std::string StagedDir(const std::string& product) const { return root_ + "/staged/" + product; }
    std::string StagedFile(const std::string& product, std::uint64_t sequence) const {
        return StagedDir(product) + "/" + std::to_string(sequence) + ".json";
    }
    std::string ImagesDir() const { return root_ + "/images"; }
    // `sha256` must have been validated as 64 lowercase hex characters.
    std::string Image(const std::string& sha256) const { return ImagesDir() + "/" + sha256; }
    std::string TorrentsDir() const { return root_ + "/torrents"; }
    std::string Torrent(const std::string& sha256) const {
        return TorrentsDir() + "/" + sha256 + ".torrent";
    }
    std::string RetiredKeysDir() const { return KeysDir() + "/retired"; }
    std::string Genesis() const { return root_ + "/genesis.json"; }
    std::string Catalog() const { return root_ + "/catalog.sqlite"; }
    // flock()ed by publishers so two CI jobs cannot take the same sequence number.
    std::string PublishLock() const { return root_ + "/publish.lock"; }

  private:
    std::string root_;
};

struct VendorConfig {
    std::string vendor;
    std::string genesis_hash;
    std::int64_t timestamp_lifetime = kDefaultTimestampLifetime;  // seconds
    std::uint64_t max_image_size = kDefaultMaxImage;              // larger images are refused

    Json ToJson() const;
    static Expected<VendorConfig> Load(const DataDir& dir);
};

// Names that become path components, URL segments or ledger recipients (vendor, product,
// hardware, device id, gateway name): 1..64 of [A-Za-z0-9._-], starting with a letter or digit,
// so "..", "/" and hidden files are impossible by construction.
bool ValidName(std::string_view name);
Status CheckName(std::string_view what, std::string_view name);
// A product name: the stricter common rule (common/core/names.hpp, lowercase), because every
// gateway refuses the others. Reason "bad-name" like CheckName.
Status CheckProductName(std::string_view name);

// A random 64-bit nonce for txs whose id must be unique (release, admit).
std::uint64_t RandomNonce();

}  // namespace fwchain::vendor
