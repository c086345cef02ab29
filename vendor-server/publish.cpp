#include "vendor-server/publish.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/semver.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
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
           {"timestamp_version", timestamp_version},
           {"status", staged ? "staged" : "released"},
           {"signatures", signatures},
           {"threshold", threshold}};
    if (ledger) j["ledger"] = ledger->ToJson();
    return j;
}

Json SignReleaseResult::ToJson() const {
    return Json{{"product", product},    {"version", version},       {"sequence", sequence},
                {"keyid", keyid},        {"signatures", signatures}, {"valid", valid},
                {"threshold", threshold}};
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

namespace {

// "now", "+30m", "+24h", "+2d", "+3600" (seconds from now) or a unix time.
Expected<std::int64_t> ParseWhen(const std::string& when, std::int64_t now) {
    if (when == "now") return now;
    const bool relative = !when.empty() && when[0] == '+';
    std::string digits = relative ? when.substr(1) : when;
    std::int64_t unit = 1;
    if (relative && !digits.empty()) {
        const char u = digits.back();
        if (u == 's' || u == 'm' || u == 'h' || u == 'd') {
            unit = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : 86400;
            digits.pop_back();
        }
    }
    if (digits.empty() || digits.size() > 12 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
        return Fail(Errc::kInvalid, "bad-rollout",
                    "stage time '" + when + "': use now, +30m, +24h, +2d, +SECONDS or a unix time");
    }
    const std::int64_t n = std::stoll(digits);
    return relative ? now + n * unit : n;
}

}  // namespace

Expected<std::optional<Rollout>> RolloutFromFlags(const RolloutFlags& f, std::int64_t now) {
    const bool any = f.percent != -1 || !f.stages.empty() || f.max_failure_rate != 0 ||
                     f.min_reports != 0 || f.start != 0;
    if (!any) return std::optional<Rollout>();
    if (f.percent != -1 && !f.stages.empty()) {
        return Fail(Errc::kInvalid, "bad-rollout", "use --stage or --rollout-percent, not both");
    }
    Rollout r;
    r.max_failure_rate = f.max_failure_rate;
    r.min_reports = f.min_reports;
    if (f.percent != -1) {
        if (f.percent < 1 || f.percent > 100) {
            return Fail(Errc::kInvalid, "bad-rollout", "--rollout-percent must be in 1..100");
        }
        r.stages.push_back({static_cast<std::uint32_t>(f.percent), f.start != 0 ? f.start : now});
    }
    for (const auto& spec : f.stages) {
        // P%@WHEN (the % is optional)
        const auto at = spec.find('@');
        std::string p = spec.substr(0, at);
        if (!p.empty() && p.back() == '%') p.pop_back();
        if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) {
            return Fail(Errc::kInvalid, "bad-rollout",
                        "--stage '" + spec + "': expected PERCENT%@WHEN, e.g. 10%@+24h");
        }
        RolloutStage st;
        st.percent = static_cast<std::uint32_t>(std::stoul(p));
        FW_ASSIGN(st.start, ParseWhen(at == std::string::npos ? "now" : spec.substr(at + 1), now));
        r.stages.push_back(st);
    }
    if (r.stages.empty()) r.stages.push_back({100, f.start != 0 ? f.start : now});
    auto valid = Rollout::Parse(r.ToJson());
    if (!valid) return Fail(Errc::kInvalid, "bad-rollout", valid.error().message);
    return std::optional<Rollout>(std::move(r));
}

Status CheckReleaseOptions(const PublishOptions& opts) {
    FW_TRY(CheckProductName(opts.product));
    if (opts.hardware.empty()) {
        return Fail(Errc::kInvalid, "no-hardware", "at least one --hardware is required");
    }
    for (const auto& hw : opts.hardware) FW_TRY(CheckName("hardware", hw));
    if (opts.expires_days <= 0 || opts.expires_days > 36500) {
        return Fail(Errc::kInvalid, "bad-expiry", "--expires-days must be in 1..36500");
    }
    if (opts.rollout) {
        auto valid = Rollout::Parse(opts.rollout->ToJson());
        if (!valid) return Fail(Errc::kInvalid, "bad-rollout", valid.error().message);
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
Expected<std::uint64_t> NextSequence(const DataDir& dir, Catalog& catalog,
                                     const std::string& product, const std::string& tag,
                                     const SemVer& version) {
    FW_ASSIGN(bool dup, catalog.TagPublished(product, tag));
    if (dup) {
        return Fail(Errc::kConflict, "already-published",
                    "tag " + tag + " is already published for " + product);
    }
    // A staged release holds the next sequence until it is released (or its file removed).
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(dir.StagedDir(product), ec)) {
        if (f.path().extension() == ".json") {
            return Fail(Errc::kConflict, "release-staged",
                        "a release of " + product +
                            " is staged awaiting signatures: " + f.path().string() +
                            " (vendor-server sign-release, then release-staged; or remove it)");
        }
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

// Records a manifest that carries a threshold of release signatures: manifest file, catalog
// row, release tx in the outbox, torrent row and a new timestamp, in one catalog transaction
// (the timestamp is written inside it so it is serialised with `serve`'s re-signing; if the
// commit then fails, a fresh timestamp from the committed catalog replaces it). The caller holds
// the publish lock and has stored the image and torrent.
Expected<PublishResult> RecordRelease(const DataDir& dir, const VendorConfig& cfg, Catalog& catalog,
                                      const Envelope& manifest, const SigningKey& release_key,
                                      const SigningKey& timestamp_key, std::int64_t now,
                                      const std::string& ledger_url) {
    FW_ASSIGN(Release release, ParseRelease(manifest));
    // Declared before the Rollback: its failure action reads them when it is destroyed.
    bool timestamp_written = false;
    Timestamp ts;
    Rollback rollback;
    FW_TRY(MakeDirs(dir.ManifestsDir(release.product)));
    const std::string manifest_path = dir.ManifestFile(release.product, release.sequence);
    rollback.RemoveOnFailure(manifest_path);
    FW_TRY(WriteFileAtomic(manifest_path, manifest.Serialize()));

    Tx tx;
    tx.type = txtype::kRelease;
    tx.recipient = release.product;
    tx.ver = release.version;
    tx.verifier = release.image.sha256;
    tx.time = now;
    tx.nonce = RandomNonce();
    tx.body = ReleaseTxBody{release.sequence, manifest.SignedHash(), release.hardware,
                            release.rollout, release.min_approvals}
                  .ToJson();
    tx.SignWith(release_key);

    ReleaseRow row;
    row.product = release.product;
    row.sequence = release.sequence;
    row.version = release.version;
    row.tag = release.source.tag;
    row.commit = release.source.commit;
    row.repo = release.source.repo;
    row.image_sha256 = release.image.sha256;
    row.image_size = release.image.size;
    row.manifest_sha256 = manifest.SignedHash();
    row.tx_id = tx.Id();
    row.created = now;
    const std::string v1 = release.torrent ? release.torrent->infohash_v1 : "";
    const std::string v2 = release.torrent ? release.torrent->infohash_v2 : "";

    rollback.OnFailure([&] {
        if (timestamp_written) {
            (void)RefreshTimestamp(dir, catalog, timestamp_key, now, cfg.timestamp_lifetime);
        }
    });
    FW_TRY(catalog.Write([&]() -> Status {
        FW_TRY(catalog.InsertRelease(row));
        FW_TRY(catalog.InsertOutbox(tx));
        if (!v1.empty() && !v2.empty()) {
            FW_TRY(catalog.InsertTorrent(release.image.sha256, v1, v2));
        }
        timestamp_written = true;
        FW_ASSIGN(ts, WriteTimestamp(dir, catalog, timestamp_key, now, cfg.timestamp_lifetime));
        return {};
    }));
    rollback.Commit();

    PublishResult result;
    result.product = release.product;
    result.version = row.version;
    result.sequence = release.sequence;
    result.sha256 = release.image.sha256;
    result.size = release.image.size;
    result.commit = row.commit;
    result.manifest_path = manifest_path;
    result.manifest_sha256 = row.manifest_sha256;
    result.tx_id = row.tx_id;
    result.infohash_v1 = v1;
    result.infohash_v2 = v2;
    result.timestamp_version = ts.version;
    result.signatures = manifest.signatures.size();
    if (!ledger_url.empty()) {
        FW_ASSIGN(auto report, SubmitOutbox(catalog, ledger_url));
        result.ledger = std::move(report);
    }
    return result;
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
    FW_ASSIGN(std::uint64_t sequence, NextSequence(dir, catalog, opts.product, tag.tag, version));

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

    ReleaseManifest doc;
    doc.vendor = cfg.vendor;
    doc.product = opts.product;
    doc.hardware = opts.hardware;
    doc.version = version.ToString();
    doc.sequence = sequence;
    doc.image = ImageInfo{stored->sha256, stored->size, image_name};
    doc.source = ReleaseSource{tag.repo, tag.tag, tag.commit, tag.tagger, tag.notes};
    doc.created = now;
    doc.expires = now + opts.expires_days * kDay;
    doc.torrent = TorrentInfo{torrent.infohash_v1, torrent.infohash_v2};
    doc.rollout = opts.rollout;
    doc.min_approvals = static_cast<std::uint32_t>(opts.min_approvals);
    // Requirements no approver set can meet would hold the release back for ever.
    const RoleKeys* approvers = root.Role(kApproverRole);
    const std::size_t approver_keys = approvers ? approvers->keyids.size() : 0;
    if (doc.min_approvals > approver_keys) {
        return Fail(Errc::kInvalid, "unmeetable-approvals",
                    "--min-approvals " + std::to_string(doc.min_approvals) + " but root v" +
                        std::to_string(root.version) + " lists " + std::to_string(approver_keys) +
                        " approver key(s); add them first (vendor-server add-key --role approver)");
    }
    Json signed_doc = doc.ToJson();
    // What every client will parse: never sign a manifest the parser refuses.
    FW_TRY(ReleaseManifest::Parse(signed_doc));
    Envelope manifest = SignDocument(std::move(signed_doc), {&release_key});
    const RoleKeys* role = root.Role(kReleaseRole);
    const std::size_t threshold = role ? role->threshold : 1;
    if (threshold > 1) {
        // One signature of `threshold`: stage it for the other key holders. Nothing is
        // recorded, no tx leaves, devices see nothing (they would refuse it anyway).
        FW_TRY(MakeDirs(dir.StagedDir(opts.product)));
        const std::string staged_path = dir.StagedFile(opts.product, sequence);
        rollback.RemoveOnFailure(staged_path);
        FW_TRY(WriteFileAtomic(staged_path, manifest.Serialize()));
        rollback.Commit();
        PublishResult result;
        result.product = opts.product;
        result.version = version.ToString();
        result.sequence = sequence;
        result.sha256 = stored->sha256;
        result.size = stored->size;
        result.commit = tag.commit;
        result.manifest_path = staged_path;
        result.manifest_sha256 = manifest.SignedHash();
        result.infohash_v1 = torrent.infohash_v1;
        result.infohash_v2 = torrent.infohash_v2;
        result.staged = true;
        result.signatures = 1;
        result.threshold = threshold;
        return result;
    }
    FW_ASSIGN(PublishResult result, RecordRelease(dir, cfg, catalog, manifest, release_key,
                                                  timestamp_key, now, opts.ledger_url));
    rollback.Commit();
    result.commit = tag.commit;
    return result;
}

Expected<SignReleaseResult> SignRelease(const SignReleaseOptions& opts) {
    FW_ASSIGN(Json j, LoadJsonFile(opts.manifest, 1 << 20));
    auto env = ParseEnvelope(j);
    if (!env) return Fail(Context(env.error(), opts.manifest));
    auto release = ParseRelease(*env);
    if (!release) return Fail(Context(release.error(), opts.manifest));
    FW_ASSIGN(SigningKey key, SigningKey::Load(opts.key_file));
    for (const auto& [keyid, sig] : env->signatures) {
        if (keyid == key.Id()) {
            return Fail(Errc::kConflict, "already-signed",
                        opts.manifest + " is already signed by key " + key.Id());
        }
    }
    SignReleaseResult r;
    if (!opts.root_file.empty()) {
        FW_ASSIGN(Json root_json, LoadJsonFile(opts.root_file, 4 << 20));
        auto root_env = ParseEnvelope(root_json);
        if (!root_env) return Fail(Context(root_env.error(), opts.root_file));
        auto root = ParseRoot(*root_env);
        if (!root) return Fail(Context(root.error(), opts.root_file));
        if (!root->HasRoleKey(kReleaseRole, key.Public())) {
            return Fail(Errc::kUnauthorized, "not-a-release-key",
                        opts.key_file + " is not a release key of root v" +
                            std::to_string(root->version) + " (" + opts.root_file + ")");
        }
        const RoleKeys* role = root->Role(kReleaseRole);
        r.threshold = role ? role->threshold : 1;
    }
    AddSignature(*env, key);
    FW_TRY(WriteFileAtomic(opts.manifest, env->Serialize()));
    r.product = release->product;
    r.version = release->version;
    r.sequence = release->sequence;
    r.keyid = key.Id();
    r.signatures = env->signatures.size();
    if (!opts.root_file.empty()) r.valid = r.signatures;
    return r;
}

Expected<PublishResult> ReleaseStaged(const ReleaseStagedOptions& opts) {
    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    const std::int64_t now = opts.now != 0 ? opts.now : NowSeconds();
    FW_ASSIGN(Json j, LoadJsonFile(opts.manifest, 1 << 20));
    auto env = ParseEnvelope(j);
    if (!env) return Fail(Context(env.error(), opts.manifest));
    auto release = ParseRelease(*env);
    if (!release) return Fail(Context(release.error(), opts.manifest));
    if (release->vendor != cfg.vendor) {
        return Fail(Errc::kInvalid, "wrong-vendor",
                    opts.manifest + " is a release of vendor " + release->vendor);
    }
    FW_TRY(CheckProductName(release->product));
    const std::string staged_path = dir.StagedFile(release->product, release->sequence);
    auto staged_text = ReadFile(staged_path, 1 << 20);
    if (!staged_text) {
        return Fail(Errc::kNotFound, "not-staged",
                    release->product + " sequence " + std::to_string(release->sequence) +
                        " is not staged in " + opts.data_dir + " (" + staged_path + ")");
    }
    // The signed part must be what publish staged: only signatures may have been added.
    auto staged_env = ParseEnvelope(std::string_view(*staged_text));
    if (!staged_env || staged_env->SignedHash() != env->SignedHash()) {
        return Fail(Errc::kVerify, "manifest-changed",
                    opts.manifest + " does not sign the manifest staged as " + staged_path);
    }
    FW_ASSIGN(auto lock, FileLock::Acquire(dir.PublishLock()));
    FW_ASSIGN(auto root, LatestRoot(dir));
    const RoleKeys* role = root.Role(kReleaseRole);
    if (role == nullptr)
        return Fail(Errc::kInternal, "no-release-role", "root has no release role");
    // The devices' own rule: distinct valid signatures of release keys of the current root.
    auto enough = VerifyThreshold(*env, root.keys, role->keyids, role->threshold, kReleaseRole);
    if (!enough) {
        std::size_t valid = 0;
        for (const auto& [keyid, sig] : env->signatures) {
            auto key = root.keys.find(keyid);
            auto s = SignatureFromHex(sig);
            const bool listed =
                std::find(role->keyids.begin(), role->keyids.end(), keyid) != role->keyids.end();
            if (key != root.keys.end() && listed && s &&
                Verify(key->second, Canonical(env->signed_doc), *s)) {
                ++valid;
            }
        }
        return Fail(Errc::kVerify, "below-threshold",
                    opts.manifest + " has " + std::to_string(valid) +
                        " valid release signature(s) of " + std::to_string(role->threshold) +
                        ": needs " +
                        std::to_string(role->threshold - std::min(valid, role->threshold)) +
                        " more (vendor-server sign-release --manifest FILE --key KEYFILE)");
    }
    if (release->expires <= now) {
        return Fail(Errc::kVerify, "expired", opts.manifest + " expired before it was released");
    }
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_ASSIGN(auto latest, catalog.LatestRelease(release->product));
    if (latest && latest->sequence >= release->sequence) {
        return Fail(Errc::kConflict, "already-published",
                    release->product + " sequence " + std::to_string(release->sequence) +
                        " is already published");
    }
    if (!FileExists(dir.Image(release->image.sha256))) {
        return Fail(Errc::kNotFound, "no-image",
                    "the image " + release->image.sha256 + " is not stored in " + opts.data_dir);
    }
    FW_ASSIGN(auto release_key, SigningKey::Load(dir.Key(kReleaseRole)));
    FW_ASSIGN(auto timestamp_key, SigningKey::Load(dir.Key(kTimestampRole)));
    if (!root.HasRoleKey(kReleaseRole, release_key.Public())) {
        return Fail(
            Errc::kUnauthorized, "not-a-release-key",
            "keys/release.key is not a release key of root v" + std::to_string(root.version));
    }
    FW_ASSIGN(PublishResult result, RecordRelease(dir, cfg, catalog, *env, release_key,
                                                  timestamp_key, now, opts.ledger_url));
    ::unlink(staged_path.c_str());
    result.commit = release->source.commit;
    return result;
}

}  // namespace fwchain::vendor
