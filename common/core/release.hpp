#pragma once
// The release manifest's `signed` object (DESIGN.md §4, docs/protocol.md "Signed documents"):
// the one definition of what a manifest is on the wire. The vendor builds it (ToJson), every
// client parses it (Parse), and test vendors use the same builder, so a field cannot be written
// in one place and read differently, or not at all, in another.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/json.hpp"
#include "common/core/rollout.hpp"

namespace fwchain {

struct ImageInfo {
    std::string sha256;  // lowercase hex
    std::uint64_t size = 0;
    std::string name;
    bool operator==(const ImageInfo&) const = default;
};

// Where the image was built from (the vendor's git tag). For people and audits; no rule reads it.
struct ReleaseSource {
    std::string repo;
    std::string tag;
    std::string commit;
    std::string tagger;
    std::string notes;
    bool operator==(const ReleaseSource&) const = default;
};

// The image's BitTorrent v1+v2 hybrid torrent (docs/protocol.md "Vendor server").
struct TorrentInfo {
    std::string infohash_v1;  // 40 hex: SHA-1 of the info dict
    std::string infohash_v2;  // 64 hex: SHA-256 of the info dict
    bool operator==(const TorrentInfo&) const = default;
};

inline constexpr std::uint32_t kMaxMinApprovals = 100;
inline constexpr std::size_t kMaxReleaseVersionLength = 64;  // the release tx's `ver` limit

struct ReleaseManifest {
    std::string vendor;
    std::string product;                // ValidProductName
    std::vector<std::string> hardware;  // at least one, each non-empty
    std::string version;                // for people (semver at the vendor); 1..64 chars
    std::uint64_t sequence = 0;         // >= 1, the only thing compared
    ImageInfo image;
    ReleaseSource source;
    std::int64_t created = 0;
    std::int64_t expires = 0;
    std::optional<TorrentInfo> torrent;
    std::optional<Rollout> rollout;   // staged rollout (rollout.hpp); absent = everyone
    std::uint32_t min_approvals = 0;  // 0 = none (the field is then absent), else 1..100

    bool operator==(const ReleaseManifest&) const = default;

    // The canonical `signed` object, "type":"release" included; sign with SignDocument.
    Json ToJson() const;

    // Parses and validates a `signed` object: every field's presence, type and range, the
    // optional ones when present. Errors are Errc::kInvalid: "wrong-type" when the document is
    // not a release, "bad-product" when the product breaks the name rule (names.hpp),
    // "malformed" (naming the field) otherwise.
    static Expected<ReleaseManifest> Parse(const Json& signed_doc);
};

}  // namespace fwchain
