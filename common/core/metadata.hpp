#pragma once
// The vendor's signed documents (DESIGN.md §3, §4): root, release manifest, timestamp, and the
// client-side verification rules applied to them. Pure: the caller supplies `now`.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/envelope.hpp"
#include "common/core/release.hpp"

namespace fwchain {

struct RoleKeys {
    std::vector<std::string> keyids;
    std::size_t threshold = 1;
};

struct Root {
    std::string vendor;
    std::uint64_t version = 0;
    std::int64_t issued = 0;
    std::int64_t expires = 0;
    std::map<std::string, PublicKey> keys;  // keyid -> key
    std::map<std::string, RoleKeys> roles;  // root, release, timestamp, admission, approver
    Envelope envelope;                      // as received, for re-serving

    // True when `key` is listed for `role`.
    bool HasRoleKey(const std::string& role, const PublicKey& key) const;
    const RoleKeys* Role(const std::string& role) const;
};

// A parsed release manifest (common/core/release.hpp) with the envelope it came in.
struct Release : ReleaseManifest {
    Envelope envelope;
    std::string ManifestHash() const { return envelope.SignedHash(); }
};

// A main-chain ledger block the vendor vouches for (docs/protocol.md "Ledger proofs").
struct LedgerPoint {
    std::uint64_t height = 0;
    std::string hash;  // hex
    bool operator==(const LedgerPoint&) const = default;
    Json ToJson() const { return Json{{"hash", hash}, {"height", height}}; }
    static Expected<LedgerPoint> FromJson(const Json& j);
};

// What the timestamp says of one release manifest: its signed hash and, once the vendor has seen
// its release tx deep enough in the ledger, the block that holds it.
struct ManifestEntry {
    std::string sha256;
    std::optional<LedgerPoint> block;
    bool operator==(const ManifestEntry&) const = default;
};
using ManifestMap = std::map<std::string, std::map<std::uint64_t, ManifestEntry>>;

struct Timestamp {
    std::uint64_t version = 0;
    std::int64_t issued = 0;
    std::int64_t expires = 0;
    std::map<std::string, std::uint64_t> latest;  // product -> sequence
    // product -> sequence -> manifest hash (the recent releases of each product, TUF's
    // snapshot role): a device installs only a manifest named here, so a release key alone
    // cannot make one it accepts.
    ManifestMap manifests;
    // The vendor's ledger checkpoint: a main-chain block some way below the tip it saw.
    std::optional<LedgerPoint> checkpoint;
    std::uint64_t root_version = 0;
    Envelope envelope;

    // The entry for (product, sequence), or null.
    const ManifestEntry* Manifest(const std::string& product, std::uint64_t sequence) const;
};

// The `signed` part of a timestamp (sign with SignDocument).
Json MakeTimestampSigned(std::uint64_t version, std::int64_t issued, std::int64_t expires,
                         const std::map<std::string, std::uint64_t>& latest,
                         const ManifestMap& manifests, const std::optional<LedgerPoint>& checkpoint,
                         std::uint64_t root_version);

// Structural parsing, no signature checks.
Expected<Root> ParseRoot(const Envelope& env);
Expected<Release> ParseRelease(const Envelope& env);
Expected<Timestamp> ParseTimestamp(const Envelope& env);

// Builders used by the vendor (the `signed` parts; sign with SignDocument).
Json MakeRootSigned(const Root& root);

// Verifies a self-signed initial root (provisioning, first gateway start).
Expected<Root> VerifyInitialRoot(const Envelope& env, std::int64_t now);

// Walks trusted -> trusted+1 -> ... (TUF): each root N+1 must be signed by a threshold of root
// N's root keys and of its own; versions must be consecutive. The final root must be unexpired.
Expected<Root> VerifyRootChain(const Root& trusted, const std::vector<Envelope>& newer,
                               std::int64_t now);

struct AcceptedMark {  // what a client remembers of the last timestamp it accepted
    std::uint64_t version = 0;
    std::int64_t issued = 0;
};

// Threshold of timestamp keys, not expired at `now`, root_version matches, and not older (by
// version or issued) than `last`.
Expected<Timestamp> VerifyTimestamp(const Root& root, const Envelope& env, std::int64_t now,
                                    const AcceptedMark& last);

struct DeviceMatch {
    std::string vendor;
    std::string product;
    std::string hardware;
    std::uint64_t installed_sequence = 0;
    std::uint64_t max_image_size = 0;  // 0 = no limit
};

// Threshold of release keys, not expired, vendor/product/hardware match, sequence strictly above
// the installed one and not above what the timestamp names as latest (mix-and-match), and the
// timestamp names this manifest's hash for its sequence ("manifest-not-in-timestamp").
Expected<Release> VerifyRelease(const Root& root, const Envelope& env, std::int64_t now,
                                const DeviceMatch& device, const Timestamp& ts);

// Verification of a release by a relay (gateway): signatures, expiry, vendor and timestamp
// consistency, without the per-device rules.
Expected<Release> VerifyReleaseForRelay(const Root& root, const Envelope& env, std::int64_t now,
                                        const Timestamp& ts);

}  // namespace fwchain
