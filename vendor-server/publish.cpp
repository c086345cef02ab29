#include "vendor-server/publish.hpp"

#include <filesystem>
#include <system_error>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/semver.hpp"
#include "common/core/tx.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/git_source.hpp"
#include "vendor-server/image_store.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/torrent.hpp"

namespace fwchain::vendor {

Json PublishResult::ToJson() const {
    Json j{{"product", product},
           {"version", version},
           {"sequence", sequence},
           {"sha256", sha256},
           {"size", size},
           {"commit", commit},
           {"manifest", manifest_path},
           {"manifest_sha256", manifest_sha256},
           {"tx_id", tx_id},
           {"torrent", {{"infohash_v1", infohash_v1}, {"infohash_v2", infohash_v2}}},
           {"timestamp_version", timestamp_version}};
    if (ledger) j["ledger"] = ledger->ToJson();
    return j;
}

ImageRef ParseImageRef(const std::string& image) {
    constexpr std::string_view kTreePrefix = "tree:";
    ImageRef ref;
    ref.in_tree = image.rfind(kTreePrefix, 0) == 0;
    ref.path = ref.in_tree ? image.substr(kTreePrefix.size()) : image;
    const auto slash = ref.path.find_last_of('/');
    ref.name = slash == std::string::npos ? ref.path : ref.path.substr(slash + 1);
    return ref;
}

Status CheckReleaseOptions(const PublishOptions& opts) {
    FW_TRY(CheckName("product", opts.product));
    if (opts.hardware.empty()) {
        return Fail(Errc::kInvalid, "no-hardware", "at least one --hardware is required");
    }
    for (const auto& hw : opts.hardware) FW_TRY(CheckName("hardware", hw));
    if (opts.expires_days <= 0 || opts.expires_days > 36500) {
        return Fail(Errc::kInvalid, "bad-expiry", "--expires-days must be in 1..36500");
    }
    if (opts.rollout_percent != -1 && (opts.rollout_percent < 1 || opts.rollout_percent > 100)) {
        return Fail(Errc::kInvalid, "bad-rollout", "--rollout-percent must be in 1..100");
    }
    if (opts.rollout_start < 0) {
        return Fail(Errc::kInvalid, "bad-rollout", "--rollout-start must be a unix time");
    }
    if (opts.min_approvals > 100) {
        return Fail(Errc::kInvalid, "bad-approvals", "--min-approvals must be at most 100");
    }
    return {};
}

namespace {

Status CheckOptions(const PublishOptions& opts) {
    FW_TRY(CheckReleaseOptions(opts));
    if (opts.tag.empty()) return Fail(Errc::kInvalid, "bad-tag", "--tag is required");
    if (opts.image.empty()) return Fail(Errc::kInvalid, "no-image", "--image is required");
    return {};
}

// The semver of the release: --version, else the tag without its leading 'v'.
Expected<SemVer> ReleaseVersion(const PublishOptions& opts, const std::string& tag) {
    const std::string text = opts.version.empty() ? tag : opts.version;
    auto v = SemVer::Parse(text);
    if (!v) {
        return Fail(Errc::kInvalid, "bad-version",
                    "'" + text + "' is not a semantic version (use --version)");
    }
    return *v;
}

// Refuses a republished tag and a version that does not move forward; returns the sequence.
Expected<std::uint64_t> NextSequence(Catalog& catalog, const std::string& product,
                                     const std::string& tag, const SemVer& version) {
    FW_ASSIGN(bool dup, catalog.TagPublished(product, tag));
    if (dup) {
        return Fail(Errc::kConflict, "already-published",
                    "tag " + tag + " is already published for " + product);
    }
    FW_ASSIGN(auto latest, catalog.LatestRelease(product));
    if (!latest) return std::uint64_t{1};
    auto latest_version = SemVer::Parse(latest->version);
    if (!latest_version) {
        return Fail(Errc::kInternal, "bad-catalog",
                    "stored version '" + latest->version + "' does not parse");
    }
    if (!(*latest_version < version)) {
        return Fail(Errc::kConflict, "version-not-newer",
                    "version " + version.ToString() + " is not greater than " + product +
                        "'s latest published version " + latest->version);
    }
    return latest->sequence + 1;
}

}  // namespace

Expected<PublishResult> Publish(const PublishOptions& opts) {
    FW_TRY(CheckOptions(opts));
    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    FW_ASSIGN(auto tag, ReadTag(opts.repo, opts.tag));
    if (!tag.annotated && !opts.allow_lightweight) {
        return Fail(Errc::kInvalid, "lightweight-tag",
                    "tag " + opts.tag +
                        " is lightweight (no tagger, no notes); use an annotated tag or "
                        "--allow-lightweight");
    }
    const ImageRef ref = ParseImageRef(opts.image);
    ImageInput image;
    image.name = ref.name;
    if (ref.in_tree) {
        FW_ASSIGN(image.bytes, ReadTreeFile(opts.repo, opts.tag, ref.path, cfg.max_image_size));
        image.in_memory = true;
    } else {
        if (!opts.allow_dirty) FW_TRY(CheckWorkTreeClean(opts.repo, ref.path));
        image.file = ref.path;
    }
    return PublishFromSource(opts, tag, image);
}

Expected<PublishResult> PublishFromSource(const PublishOptions& opts, const TagInfo& tag,
                                          const ImageInput& image) {
    FW_TRY(CheckReleaseOptions(opts));
    if (tag.tag.empty()) return Fail(Errc::kInvalid, "bad-tag", "the tag name is empty");
    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    const std::int64_t now = opts.now != 0 ? opts.now : NowSeconds();
    FW_ASSIGN(auto version, ReleaseVersion(opts, tag.tag));
    // Size limit before anything is written.
    if (image.in_memory) {
        if (image.bytes.size() > cfg.max_image_size) {
            return Fail(Errc::kTooLarge, "image-too-large",
                        "the image is " + std::to_string(image.bytes.size()) +
                            " bytes, above the limit of " + std::to_string(cfg.max_image_size));
        }
    } else {
        std::error_code ec;
        const auto size = std::filesystem::file_size(image.file, ec);
        if (ec) {
            return Fail(Errc::kNotFound, "no-image",
                        "cannot read image " + image.file + ": " + ec.message());
        }
        if (size > cfg.max_image_size) {
            return Fail(Errc::kTooLarge, "image-too-large",
                        image.file + " is " + std::to_string(size) + " bytes, above the limit of " +
                            std::to_string(cfg.max_image_size) +
                            " (max_image_size in config.json)");
        }
    }
    // One publisher at a time: the sequence is chosen here and signed into the manifest
    // before the catalog transaction that records it.
    FW_ASSIGN(auto lock, FileLock::Acquire(dir.PublishLock()));

    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_ASSIGN(std::uint64_t sequence, NextSequence(catalog, opts.product, tag.tag, version));

    FW_ASSIGN(auto release_key, SigningKey::Load(dir.Key(kReleaseRole)));
    FW_ASSIGN(auto timestamp_key, SigningKey::Load(dir.Key(kTimestampRole)));
    FW_ASSIGN(auto root, LatestRoot(dir));
    if (!root.HasRoleKey(kReleaseRole, release_key.Public())) {
        return Fail(
            Errc::kUnauthorized, "not-a-release-key",
            "keys/release.key is not a release key of root v" + std::to_string(root.version));
    }

    // Files first (image, manifest), catalog last: a crash in between leaves unreferenced
    // files, never a catalog row naming missing bytes. Rollback removes what this run created.
    // Declared before the Rollback: its failure action reads them when it is destroyed.
    bool timestamp_written = false;
    Timestamp ts;
    Rollback rollback;
    const std::string image_name = image.name;
    Expected<StoredImage> stored =
        image.in_memory ? StoreImageBytes(dir, image.bytes) : StoreImageFile(dir, image.file);
    if (!stored) return Fail(stored.error());
    if (stored->created) rollback.RemoveOnFailure(stored->path);
    if (stored->size == 0) return Fail(Errc::kInvalid, "empty-image", "the image is empty");
    if (stored->size > cfg.max_image_size) {  // the file grew between the check and the copy
        return Fail(Errc::kTooLarge, "image-too-large", "the image is above the size limit");
    }

    // The torrent (hybrid v1+v2, named by the image hash) is made once per image; its
    // infohashes go into the signed manifest so a gateway can trust what the swarm hands it.
    FW_TRY(MakeDirs(dir.TorrentsDir()));
    FW_ASSIGN(auto torrent, MakeTorrent(dir.ImagesDir(), stored->sha256));
    const std::string torrent_path = dir.Torrent(stored->sha256);
    if (!FileExists(torrent_path)) {
        rollback.RemoveOnFailure(torrent_path);
        FW_TRY(WriteFileAtomic(torrent_path, torrent.bytes));
    }

    Json signed_doc = {
        {"type", "release"},
        {"vendor", cfg.vendor},
        {"product", opts.product},
        {"hardware", opts.hardware},
        {"version", version.ToString()},
        {"sequence", sequence},
        {"image", {{"sha256", stored->sha256}, {"size", stored->size}, {"name", image_name}}},
        {"source",
         {{"repo", tag.repo},
          {"tag", tag.tag},
          {"commit", tag.commit},
          {"tagger", tag.tagger},
          {"notes", tag.notes}}},
        {"created", now},
        {"expires", now + opts.expires_days * kDay},
        {"torrent", {{"infohash_v1", torrent.infohash_v1}, {"infohash_v2", torrent.infohash_v2}}},
    };
    if (opts.rollout_percent != -1) {
        signed_doc["rollout"] = {{"percent", opts.rollout_percent},
                                 {"start", opts.rollout_start != 0 ? opts.rollout_start : now}};
    }
    if (opts.min_approvals > 0) signed_doc["min_approvals"] = opts.min_approvals;
    Envelope manifest = SignDocument(std::move(signed_doc), {&release_key});
    FW_TRY(MakeDirs(dir.ManifestsDir(opts.product)));
    const std::string manifest_path = dir.ManifestFile(opts.product, sequence);
    rollback.RemoveOnFailure(manifest_path);
    FW_TRY(WriteFileAtomic(manifest_path, manifest.Serialize()));

    Tx tx;
    tx.type = txtype::kRelease;
    tx.recipient = opts.product;
    tx.ver = version.ToString();
    tx.verifier = stored->sha256;
    tx.time = now;
    tx.nonce = RandomNonce();
    tx.body = {{"sequence", sequence},
               {"manifest_sha256", manifest.SignedHash()},
               {"hardware", opts.hardware}};
    tx.SignWith(release_key);

    ReleaseRow row;
    row.product = opts.product;
    row.sequence = sequence;
    row.version = version.ToString();
    row.tag = tag.tag;
    row.commit = tag.commit;
    row.repo = tag.repo;
    row.image_sha256 = stored->sha256;
    row.image_size = stored->size;
    row.manifest_sha256 = manifest.SignedHash();
    row.tx_id = tx.Id();
    row.created = now;

    // The timestamp is written inside the transaction (after the rows, before COMMIT) so it is
    // serialised with `serve`'s re-signing; if the commit then fails, a fresh timestamp from
    // the committed catalog replaces it.
    rollback.OnFailure([&] {
        if (timestamp_written) {
            (void)RefreshTimestamp(dir, catalog, timestamp_key, now, cfg.timestamp_lifetime);
        }
    });
    FW_TRY(catalog.Write([&]() -> Status {
        FW_TRY(catalog.InsertRelease(row));
        FW_TRY(catalog.InsertOutbox(tx));
        FW_TRY(catalog.InsertTorrent(stored->sha256, torrent.infohash_v1, torrent.infohash_v2));
        timestamp_written = true;
        FW_ASSIGN(ts, WriteTimestamp(dir, catalog, timestamp_key, now, cfg.timestamp_lifetime));
        return {};
    }));
    rollback.Commit();

    PublishResult result;
    result.product = opts.product;
    result.version = row.version;
    result.sequence = sequence;
    result.sha256 = stored->sha256;
    result.size = stored->size;
    result.commit = tag.commit;
    result.manifest_path = manifest_path;
    result.manifest_sha256 = row.manifest_sha256;
    result.tx_id = row.tx_id;
    result.infohash_v1 = torrent.infohash_v1;
    result.infohash_v2 = torrent.infohash_v2;
    result.timestamp_version = ts.version;
    if (!opts.ledger_url.empty()) {
        FW_ASSIGN(auto report, SubmitOutbox(catalog, opts.ledger_url));
        result.ledger = std::move(report);
    }
    return result;
}

}  // namespace fwchain::vendor
