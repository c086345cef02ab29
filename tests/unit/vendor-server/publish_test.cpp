#include "vendor-server/publish.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/adapters/sqlite.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/git_source.hpp"
#include "vendor-server/keys.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {
namespace {

namespace fs = std::filesystem;

class PublishTest : public test::VendorFixture {
  protected:
    Root LoadRoot() {
        auto env = LoadRootEnvelope(DataDir(data()), 1);
        EXPECT_TRUE(env);
        auto root = VerifyInitialRoot(*env, NowSeconds());
        EXPECT_TRUE(root);
        return *root;
    }
    Timestamp LoadTs() {
        auto ts = LoadTimestamp(DataDir(data()));
        EXPECT_TRUE(ts && *ts);
        return **ts;
    }
    Envelope LoadManifest(const std::string& product, std::uint64_t seq) {
        auto text = ReadFile(DataDir(data()).ManifestFile(product, seq));
        EXPECT_TRUE(text) << product << "/" << seq;
        auto env = ParseEnvelope(std::string_view(text ? *text : std::string("{}")));
        EXPECT_TRUE(env);
        return env ? *env : Envelope{};
    }
    std::vector<OutboxRow> Outbox() {
        auto cat = Catalog::Open(DataDir(data()).Catalog());
        EXPECT_TRUE(cat);
        auto rows = cat->PendingOutbox();
        EXPECT_TRUE(rows);
        return rows ? *rows : std::vector<OutboxRow>{};
    }
    std::size_t CountFiles(const std::string& path) {
        std::error_code ec;
        std::size_t n = 0;
        for (auto it = fs::directory_iterator(path, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            ++n;
        }
        return n;
    }
};

TEST_F(PublishTest, ReadsAnnotatedTagsThroughLibgit2) {
    auto info = ReadTag(repo_->path(), "v1.1.0");
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_TRUE(info->annotated);
    EXPECT_EQ(commit2_, info->commit);  // peeled from the tag object to the commit
    EXPECT_EQ("Release Bot <ci@example.com>", info->tagger);
    EXPECT_EQ("Second release\n\nFixes.", info->notes);
    EXPECT_EQ(fs::canonical(repo_->path()).string(), fs::canonical(info->repo).string());

    auto light = ReadTag(repo_->path(), "v1.2.0");
    ASSERT_TRUE(light);
    EXPECT_FALSE(light->annotated);
    EXPECT_EQ("", light->tagger);

    repo_->Git("remote add origin https://git.example.com/acme/fw.git");
    auto with_origin = ReadTag(repo_->path(), "v1.0.0");
    ASSERT_TRUE(with_origin);
    EXPECT_EQ("https://git.example.com/acme/fw.git", with_origin->repo);
    EXPECT_EQ(commit1_, with_origin->commit);

    auto missing = ReadTag(repo_->path(), "v9.9.9");
    ASSERT_FALSE(missing);
    EXPECT_EQ("no-tag", missing.error().reason);
    auto blob = ReadTreeFile(repo_->path(), "v1.0.0", "fw.bin");
    ASSERT_TRUE(blob);
    EXPECT_EQ("firmware one", *blob);
}

TEST_F(PublishTest, PublishesSignedManifestsWithIncreasingSequences) {
    auto first = Publish(PublishOpts("v1.0.0"));
    ASSERT_TRUE(first) << first.error().ToString();
    EXPECT_EQ(1u, first->sequence);
    EXPECT_EQ("1.0.0", first->version);
    EXPECT_EQ(Sha256Hex("firmware one"), first->sha256);

    // A file image for the second release.
    test::WriteText(tmp_ / "build.bin", "built firmware two");
    auto opts = PublishOpts("v1.1.0");
    opts.image = tmp_ / "build.bin";
    auto second = Publish(opts);
    ASSERT_TRUE(second) << second.error().ToString();
    EXPECT_EQ(2u, second->sequence);

    const Root root = LoadRoot();
    const Timestamp ts = LoadTs();
    EXPECT_EQ(2u, ts.latest.at("cam"));
    EXPECT_EQ(3u, ts.version);  // init, then one per publish
    ASSERT_TRUE(VerifyTimestamp(root, ts.envelope, NowSeconds(), {}));

    const Envelope m1 = LoadManifest("cam", 1);
    const Json& s1 = m1.signed_doc;
    EXPECT_EQ("release", s1.at("type"));
    EXPECT_EQ("acme", s1.at("vendor"));
    EXPECT_EQ("cam", s1.at("product"));
    EXPECT_EQ(Json({"rev-a", "rev-b"}), s1.at("hardware"));
    EXPECT_EQ(1u, s1.at("sequence").get<std::uint64_t>());
    EXPECT_EQ(commit1_, s1.at("source").at("commit"));
    EXPECT_EQ("v1.0.0", s1.at("source").at("tag"));
    EXPECT_EQ("Release Bot <ci@example.com>", s1.at("source").at("tagger"));
    EXPECT_EQ("First release", s1.at("source").at("notes"));
    EXPECT_EQ("fw.bin", s1.at("image").at("name"));
    EXPECT_EQ(12u, s1.at("image").at("size").get<std::uint64_t>());
    EXPECT_EQ(first->manifest_sha256, m1.SignedHash());

    const Envelope m2 = LoadManifest("cam", 2);
    EXPECT_EQ(commit2_, m2.signed_doc.at("source").at("commit"));
    EXPECT_EQ("build.bin", m2.signed_doc.at("image").at("name"));
    EXPECT_EQ("Second release\n\nFixes.", m2.signed_doc.at("source").at("notes"));

    // What a device does with it.
    DeviceMatch dev{"acme", "cam", "rev-b", 1, 0};
    auto verified = VerifyRelease(root, m2, NowSeconds(), dev, ts);
    ASSERT_TRUE(verified) << verified.error().ToString();
    EXPECT_EQ(2u, verified->sequence);
    DeviceMatch other_hw{"acme", "cam", "rev-c", 0, 0};
    EXPECT_FALSE(VerifyRelease(root, m2, NowSeconds(), other_hw, ts));

    // The stored image is exactly the published bytes, under its hash.
    EXPECT_EQ("built firmware two", test::ReadText(DataDir(data()).Image(second->sha256)));
    EXPECT_EQ("firmware one", test::ReadText(DataDir(data()).Image(first->sha256)));

    // Release txs wait in the outbox, signed by the release key, naming the manifest.
    const auto rows = Outbox();
    ASSERT_EQ(2u, rows.size());
    auto j = ParseJson(rows[1].tx_json);
    ASSERT_TRUE(j);
    auto tx = ParseTx(*j);
    ASSERT_TRUE(tx) << tx.error().ToString();
    EXPECT_EQ(second->tx_id, tx->Id());
    EXPECT_EQ("release", tx->type);
    EXPECT_EQ("cam", tx->recipient);
    EXPECT_EQ("1.1.0", tx->ver);
    EXPECT_EQ(second->sha256, tx->verifier);
    auto body = ReleaseTxBody::Parse(tx->body);
    ASSERT_TRUE(body) << body.error().ToString();
    EXPECT_EQ(*body, (ReleaseTxBody{2, m2.SignedHash(), {"rev-a", "rev-b"}, std::nullopt, 0}));
    auto release_key = SigningKey::Load(DataDir(data()).Key("release"));
    ASSERT_TRUE(release_key);
    EXPECT_EQ(release_key->PublicHex(), tx->sender);
}

TEST_F(PublishTest, RefusesTheSameTagTwice) {
    ASSERT_TRUE(Publish(PublishOpts("v1.0.0")));
    auto again = Publish(PublishOpts("v1.0.0"));
    ASSERT_FALSE(again);
    EXPECT_EQ("already-published", again.error().reason);
    EXPECT_EQ(1u, Outbox().size());
    EXPECT_EQ(1u, LoadTs().latest.at("cam"));
}

TEST_F(PublishTest, RefusesLightweightTagsUnlessAllowed) {
    auto light = Publish(PublishOpts("v1.2.0"));
    ASSERT_FALSE(light);
    EXPECT_EQ("lightweight-tag", light.error().reason);
    EXPECT_FALSE(FileExists(DataDir(data()).ManifestFile("cam", 1)));

    auto opts = PublishOpts("v1.2.0");
    opts.allow_lightweight = true;
    auto ok = Publish(opts);
    ASSERT_TRUE(ok) << ok.error().ToString();
    const Envelope m = LoadManifest("cam", 1);
    EXPECT_EQ("", m.signed_doc.at("source").at("tagger"));
    EXPECT_EQ("1.2.0", m.signed_doc.at("version"));
}

TEST_F(PublishTest, RefusesAVersionThatDoesNotMoveForward) {
    ASSERT_TRUE(Publish(PublishOpts("v1.1.0")));
    auto lower = Publish(PublishOpts("v1.0.0"));
    ASSERT_FALSE(lower);
    EXPECT_EQ("version-not-newer", lower.error().reason);
    auto older = Publish(PublishOpts("v0.9.0"));
    ASSERT_FALSE(older);
    EXPECT_EQ("version-not-newer", older.error().reason);
    // Equal version under another tag is not newer either.
    repo_->AnnotatedTag("release-1.1.0", "same version again");
    auto opts = PublishOpts("release-1.1.0");
    opts.version = "1.1.0";
    auto same = Publish(opts);
    ASSERT_FALSE(same);
    EXPECT_EQ("version-not-newer", same.error().reason);
    // A tag that is not a version needs --version.
    auto unversioned = Publish(PublishOpts("release-1.1.0"));
    ASSERT_FALSE(unversioned);
    EXPECT_EQ("bad-version", unversioned.error().reason);
    EXPECT_EQ(1u, Outbox().size());
}

TEST_F(PublishTest, SequencesArePerProduct) {
    ASSERT_TRUE(Publish(PublishOpts("v1.0.0")));
    auto opts = PublishOpts("v1.0.0");
    opts.product = "doorbell";
    auto other = Publish(opts);
    ASSERT_TRUE(other) << other.error().ToString();
    EXPECT_EQ(1u, other->sequence);
    const Timestamp ts = LoadTs();
    EXPECT_EQ(1u, ts.latest.at("cam"));
    EXPECT_EQ(1u, ts.latest.at("doorbell"));
}

TEST_F(PublishTest, AFailedPublishLeavesNothingBehind) {
    ASSERT_TRUE(Publish(PublishOpts("v1.0.0")));
    const Timestamp before = LoadTs();
    const DataDir dir(data());
    const std::size_t images_before = CountFiles(dir.ImagesDir());

    // Fail inside the catalog transaction, after the image and manifest files were written.
    {
        auto db = sql::Db::Open(dir.Catalog());
        ASSERT_TRUE(db);
        ASSERT_TRUE(
            db->Exec("CREATE TRIGGER inject BEFORE INSERT ON outbox "
                     "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"));
    }
    auto failed = Publish(PublishOpts("v1.1.0"));
    ASSERT_FALSE(failed);
    EXPECT_FALSE(FileExists(dir.ManifestFile("cam", 2)));
    EXPECT_FALSE(FileExists(dir.Image(Sha256Hex("firmware two, longer"))));
    EXPECT_EQ(images_before, CountFiles(dir.ImagesDir())) << "no temp files either";
    EXPECT_EQ(1u, Outbox().size());
    auto cat = Catalog::Open(dir.Catalog());
    ASSERT_TRUE(cat);
    auto latest = cat->LatestRelease("cam");
    ASSERT_TRUE(latest && *latest);
    EXPECT_EQ(1u, (*latest)->sequence);
    const Timestamp after = LoadTs();
    EXPECT_EQ(before.latest, after.latest) << "the timestamp must not name the failed release";

    // Once the fault is gone the same tag publishes as sequence 2.
    {
        auto db = sql::Db::Open(dir.Catalog());
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->Exec("DROP TRIGGER inject"));
    }
    auto ok = Publish(PublishOpts("v1.1.0"));
    ASSERT_TRUE(ok) << ok.error().ToString();
    EXPECT_EQ(2u, ok->sequence);
}

TEST_F(PublishTest, AMissingImageFailsCleanly) {
    auto opts = PublishOpts("v1.0.0");
    opts.image = tmp_ / "does-not-exist.bin";
    auto r = Publish(opts);
    ASSERT_FALSE(r);
    EXPECT_EQ("no-image", r.error().reason);
    opts.image = "tree:no/such/file";
    r = Publish(opts);
    ASSERT_FALSE(r);
    EXPECT_EQ("no-file", r.error().reason);
    EXPECT_EQ(0u, CountFiles(DataDir(data()).ImagesDir()));
    EXPECT_TRUE(Outbox().empty());
    EXPECT_TRUE(LoadTs().latest.empty());
}

TEST_F(PublishTest, RejectsUnsafeProductAndHardwareNames) {
    auto opts = PublishOpts("v1.0.0");
    opts.product = "../keys";
    auto r = Publish(opts);
    ASSERT_FALSE(r);
    EXPECT_EQ("bad-name", r.error().reason);
    opts = PublishOpts("v1.0.0");
    opts.hardware = {};
    r = Publish(opts);
    ASSERT_FALSE(r);
    EXPECT_EQ("no-hardware", r.error().reason);
}

// Release threshold 2 of 3: publish stages (nothing recorded), a second key holder signs,
// release-staged records it; below the threshold it is refused with what is missing.
TEST_F(PublishTest, BelowTheReleaseThresholdPublishStagesUntilSigned) {
    const SigningKey qa = SigningKey::Generate();
    const SigningKey cto = SigningKey::Generate();
    const std::string qa_file = data() + "/../qa.key";
    ASSERT_TRUE(qa.Save(qa_file));
    RotateOptions o;
    o.data_dir = data();
    o.add_keys["release"] = {qa.PublicHex(), cto.PublicHex()};
    o.thresholds["release"] = 2;
    ASSERT_TRUE(RotateRoot(o));
    const std::size_t outbox_before = Outbox().size();
    const std::uint64_t ts_before = LoadTs().version;

    auto staged = Publish(PublishOpts("v1.0.0"));
    ASSERT_TRUE(staged) << staged.error().ToString();
    EXPECT_TRUE(staged->staged);
    EXPECT_EQ(staged->signatures, 1u);
    EXPECT_EQ(staged->threshold, 2u);
    EXPECT_EQ(staged->manifest_path, DataDir(data()).StagedFile("cam", 1));
    EXPECT_EQ(staged->ToJson()["status"], "staged");
    EXPECT_FALSE(FileExists(DataDir(data()).ManifestFile("cam", 1)));
    EXPECT_EQ(Outbox().size(), outbox_before) << "no release tx below the threshold";
    EXPECT_EQ(LoadTs().version, ts_before) << "the timestamp must not name it";
    // The sequence is held: another publish of cam waits for this one.
    auto another = Publish(PublishOpts("v1.1.0"));
    ASSERT_FALSE(another);
    EXPECT_EQ(another.error().reason, "release-staged");

    ReleaseStagedOptions ro;
    ro.data_dir = data();
    ro.manifest = staged->manifest_path;
    auto early = ReleaseStaged(ro);
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error().reason, "below-threshold");
    EXPECT_NE(early.error().message.find("1 valid release signature(s) of 2: needs 1 more"),
              std::string::npos)
        << early.error().message;

    // A signature by a key that is not a release key does not count.
    const SigningKey stranger = SigningKey::Generate();
    ASSERT_TRUE(stranger.Save(data() + "/../stranger.key"));
    ASSERT_TRUE(SignRelease({staged->manifest_path, data() + "/../stranger.key", ""}));
    auto still = ReleaseStaged(ro);
    ASSERT_FALSE(still);
    EXPECT_EQ(still.error().reason, "below-threshold");

    auto signed_by_qa = SignRelease({staged->manifest_path, qa_file, ""});
    ASSERT_TRUE(signed_by_qa) << signed_by_qa.error().ToString();
    EXPECT_EQ(signed_by_qa->keyid, qa.Id());
    auto again = SignRelease({staged->manifest_path, qa_file, ""});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason, "already-signed");

    auto released = ReleaseStaged(ro);
    ASSERT_TRUE(released) << released.error().ToString();
    EXPECT_FALSE(released->staged);
    EXPECT_EQ(released->sequence, 1u);
    EXPECT_FALSE(FileExists(DataDir(data()).StagedFile("cam", 1)));
    const Envelope manifest = LoadManifest("cam", 1);
    EXPECT_EQ(manifest.signatures.size(), 3u);
    EXPECT_EQ(Outbox().size(), outbox_before + 1);
    EXPECT_EQ(LoadTs().latest.at("cam"), 1u);
}

// One product-name rule for the vendor and the gateways (common/core/names.hpp): "Cam" used to
// publish here and then be refused by every gateway.
TEST_F(PublishTest, RefusesProductNamesThatGatewaysRefuse) {
    for (const char* name : {"Cam", "CAM", "cam-Rev2"}) {
        auto opts = PublishOpts("v1.0.0");
        opts.product = name;
        auto r = Publish(opts);
        ASSERT_FALSE(r) << name;
        EXPECT_EQ("bad-name", r.error().reason) << name;
        EXPECT_NE(r.error().message.find("[a-z0-9._-]"), std::string::npos) << r.error().message;
    }
    EXPECT_TRUE(Outbox().empty());
}

}  // namespace
}  // namespace fwchain::vendor
