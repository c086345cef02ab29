#pragma once
// `vendor-server publish`: a tagged Git commit and its image become a signed release manifest,
// a stored image, a `release` tx in the outbox and a new timestamp, all or nothing.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "common/core/rollout.hpp"
#include "vendor-server/git_source.hpp"
#include "vendor-server/outbox.hpp"

namespace fwchain::vendor {

// A rollout from the command line: `--rollout-percent P [--rollout-start T]` (one stage) or
// `--stage P%@WHEN` repeated (WHEN: now, +30m, +24h, +2d, +SECONDS or a unix time), plus the
// automatic halt's `max_failure_rate` and `min_reports`. None when no flag asks for one.
struct RolloutFlags {
    int percent = -1;
    std::int64_t start = 0;  // 0 = now
    std::vector<std::string> stages;
    std::uint32_t max_failure_rate = 0;
    std::uint64_t min_reports = 0;
};
Expected<std::optional<Rollout>> RolloutFromFlags(const RolloutFlags& f, std::int64_t now);

struct PublishOptions {
    std::string data_dir;
    std::string repo;  // path of the Git repository (or a directory inside it)
    std::string tag;
    std::string image;  // a file path, or "tree:PATH" for a file inside the tagged tree
    std::string product;
    std::vector<std::string> hardware;
    std::string version;  // default: the tag without a leading 'v'
    bool allow_lightweight = false;
    bool allow_dirty = false;         // accept an image file from a work tree with changes
    std::int64_t expires_days = 365;  // manifest lifetime
    std::optional<Rollout> rollout;   // staged rollout; none = everyone at once
    std::uint32_t min_approvals = 0;  // 0 = no min_approvals field
    std::string ledger_url;           // submit the outbox right away when set
    std::int64_t now = 0;             // 0 = the system clock
};

struct PublishResult {
    std::string product;
    std::string version;
    std::uint64_t sequence = 0;
    std::string sha256;
    std::uint64_t size = 0;
    std::string commit;
    std::string manifest_path;
    std::string manifest_sha256;
    std::string tx_id;
    std::string infohash_v1;
    std::string infohash_v2;
    std::uint64_t timestamp_version = 0;
    std::optional<SubmitReport> ledger;  // when ledger_url was given
    // The release role's threshold was not met by the keys this server holds: the manifest is
    // staged (manifest_path), nothing is recorded, no tx, no timestamp. `signatures` of
    // `threshold` valid release signatures so far.
    bool staged = false;
    std::size_t signatures = 0;
    std::size_t threshold = 0;

    Json ToJson() const;
};

// Where PublishOptions::image points: a file inside the tagged tree ("tree:PATH") or a file on
// disk. `name` is its base name, image.name in the manifest.
struct ImageRef {
    bool in_tree = false;
    std::string path;
    std::string name;
};
ImageRef ParseImageRef(const std::string& image);

// Reads the tag (and the image from the tagged tree or a file) from opts.repo, then publishes.
Expected<PublishResult> Publish(const PublishOptions& opts);

// The image of a release: a file, or bytes already in memory (from a Git tree).
struct ImageInput {
    std::string file;
    std::string bytes;
    bool in_memory = false;
    std::string name;  // image.name in the manifest
};

// Publishes a release whose source was read elsewhere (the admin upload API: CI read the tag
// on its side). opts.repo/tag/image/allow_* are ignored; the tag name comes from source.tag.
Expected<PublishResult> PublishFromSource(const PublishOptions& opts, const TagInfo& source,
                                          const ImageInput& image);

// Checks of PublishOptions that need no data dir (product, hardware, rollout...).
Status CheckReleaseOptions(const PublishOptions& opts);

// `vendor-server sign-release`: another release key holder adds their signature to a staged
// manifest, offline (no data dir; the file is rewritten atomically). With `root_file`, the key
// must be a release key of that root. Refuses a key that already signed.
struct SignReleaseOptions {
    std::string manifest;   // a staged manifest file
    std::string key_file;   // the signer's key file (0600)
    std::string root_file;  // optional: the vendor's current root.json, to check the key's role
};
struct SignReleaseResult {
    std::string product;
    std::string version;
    std::uint64_t sequence = 0;
    std::string keyid;           // the key that signed now
    std::size_t signatures = 0;  // signatures on the manifest now
    std::size_t valid = 0;       // of which valid release signatures (when root_file given)
    std::size_t threshold = 0;   // the release threshold (when root_file given)

    Json ToJson() const;
};
Expected<SignReleaseResult> SignRelease(const SignReleaseOptions& opts);

// `vendor-server release-staged`: records a staged manifest once a threshold of release keys of
// the current root signed it (same checks as a device), then does what publish does for a
// fully signed manifest: catalog row, release tx, timestamp. Refuses with
// "below-threshold" (and how many signatures are missing) otherwise.
struct ReleaseStagedOptions {
    std::string data_dir;
    std::string manifest;    // the staged file (DIR/staged/PRODUCT/SEQ.json)
    std::string ledger_url;  // submit the outbox right away when set
    std::int64_t now = 0;
};
Expected<PublishResult> ReleaseStaged(const ReleaseStagedOptions& opts);

}  // namespace fwchain::vendor
