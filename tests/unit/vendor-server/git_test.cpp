// Publishing from Git: bad input (tag not found, dirty work tree, oversized image) leaves
// nothing behind; `watch` publishes each new matching tag once; `list` / `show`.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/catalog_view.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/watch.hpp"

namespace fwchain::vendor {
namespace {

namespace fs = std::filesystem;

class GitPublishTest : public test::VendorFixture {
  protected:
    // A failed publish leaves no manifest, no image, no torrent, no tx, no timestamp change.
    void ExpectNothingWritten() {
        const DataDir dir(data());
        EXPECT_EQ(0u, CountFilesUnder(dir.Root() + "/manifests"));
        EXPECT_EQ(0u, CountFilesUnder(dir.ImagesDir()));
        EXPECT_EQ(0u, CountFilesUnder(dir.TorrentsDir()));
        auto cat = Catalog::Open(dir.Catalog());
        ASSERT_TRUE(cat);
        EXPECT_TRUE(cat->PendingOutbox()->empty());
        auto latest = cat->LatestSequences();
        EXPECT_TRUE(latest && latest->empty());
        auto ts = LoadTimestamp(dir);
        ASSERT_TRUE(ts && *ts);
        EXPECT_TRUE((*ts)->latest.empty());
    }
    void SetMaxImageSize(std::uint64_t max) {
        const DataDir dir(data());
        auto cfg = VendorConfig::Load(dir);
        ASSERT_TRUE(cfg);
        cfg->max_image_size = max;
        ASSERT_TRUE(WriteFileAtomic(dir.Config(), cfg->ToJson().dump(2)));
    }
    WatchOptions Watching() {
        WatchOptions w;
        w.publish = PublishOpts("");
        w.pattern = "v*";
        w.image_path = "fw.bin";
        return w;
    }
};

TEST_F(GitPublishTest, ATagThatDoesNotExistIsRefused) {
    auto r = Publish(PublishOpts("v9.9.9"));
    ASSERT_FALSE(r);
    EXPECT_EQ("no-tag", r.error().reason);
    EXPECT_NE(std::string::npos, r.error().message.find("v9.9.9"));
    auto bad = Publish(PublishOpts("v1..0"));
    ASSERT_FALSE(bad);
    ExpectNothingWritten();
}

TEST_F(GitPublishTest, AnImageFromADirtyWorkTreeIsRefusedUnlessAllowed) {
    // The image is a build output inside the work tree (untracked: fine while sources are
    // clean), then a tracked source changes without a commit.
    test::WriteText(repo_->path() + "/build.bin", "built from v1.1.0");
    auto opts = PublishOpts("v1.1.0");
    opts.image = repo_->path() + "/build.bin";
    test::WriteText(repo_->path() + "/fw.bin", "local edit, not committed");
    auto r = Publish(opts);
    ASSERT_FALSE(r);
    EXPECT_EQ("dirty-repo", r.error().reason);
    EXPECT_NE(std::string::npos, r.error().message.find("fw.bin")) << r.error().message;
    ExpectNothingWritten();

    // An image outside the work tree, or from the tagged tree, does not depend on it.
    auto outside = PublishOpts("v1.0.0");
    test::WriteText(tmp_ / "out.bin", "built elsewhere");
    outside.image = tmp_ / "out.bin";
    ASSERT_TRUE(Publish(outside));

    opts.allow_dirty = true;
    auto forced = Publish(opts);
    ASSERT_TRUE(forced) << forced.error().ToString();

    // Clean again (the edit committed): accepted without the override.
    repo_->Git("checkout -- fw.bin");
    repo_->Commit("notes.txt", "docs");
    repo_->AnnotatedTag("v1.3.0", "Third");
    auto clean = PublishOpts("v1.3.0");
    clean.image = repo_->path() + "/build.bin";
    auto ok = Publish(clean);
    ASSERT_TRUE(ok) << ok.error().ToString();
}

TEST_F(GitPublishTest, AnImageAboveTheConfiguredLimitIsRefused) {
    SetMaxImageSize(8);  // "firmware one" is 12 bytes
    auto tree = Publish(PublishOpts("v1.0.0"));
    ASSERT_FALSE(tree);
    EXPECT_EQ("image-too-large", tree.error().reason);
    auto opts = PublishOpts("v1.0.0");
    test::WriteText(tmp_ / "big.bin", "0123456789");
    opts.image = tmp_ / "big.bin";
    auto file = Publish(opts);
    ASSERT_FALSE(file);
    EXPECT_EQ("image-too-large", file.error().reason);
    ExpectNothingWritten();
    SetMaxImageSize(12);
    EXPECT_TRUE(Publish(PublishOpts("v1.0.0")));
}

TEST_F(GitPublishTest, WatchPublishesEachNewMatchingTagOnce) {
    std::set<std::string> refused;
    auto first = WatchOnce(Watching(), refused);
    ASSERT_TRUE(first) << first.error().ToString();
    // Semver order decides the sequence: v0.9.0, v1.0.0, v1.1.0; v1.2.0 is lightweight.
    ASSERT_EQ(3u, first->published.size());
    EXPECT_EQ("0.9.0", first->published[0].version);
    EXPECT_EQ(1u, first->published[0].sequence);
    EXPECT_EQ("1.1.0", first->published[2].version);
    EXPECT_EQ(3u, first->published[2].sequence);
    ASSERT_EQ(1u, first->refused.size());
    EXPECT_NE(std::string::npos, first->refused[0].find("lightweight-tag"));

    // Nothing new: nothing published, the refusal is not repeated.
    auto idle = WatchOnce(Watching(), refused);
    ASSERT_TRUE(idle);
    EXPECT_TRUE(idle->published.empty());
    EXPECT_TRUE(idle->refused.empty());

    // A new annotated tag is published exactly once; tags outside the pattern are ignored.
    repo_->Commit("fw.bin", "firmware four");
    repo_->AnnotatedTag("v2.0.0", "Fourth");
    repo_->AnnotatedTag("nightly-5", "not a release");
    auto next = WatchOnce(Watching(), refused);
    ASSERT_TRUE(next);
    ASSERT_EQ(1u, next->published.size());
    EXPECT_EQ("2.0.0", next->published[0].version);
    EXPECT_EQ(4u, next->published[0].sequence);
    EXPECT_EQ(Sha256Hex("firmware four"), next->published[0].sha256);
    EXPECT_TRUE(next->refused.empty());
    auto again = WatchOnce(Watching(), refused);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->published.empty());

    // An older version tagged later is refused once (the sequence must follow semver).
    repo_->AnnotatedTag("v1.5.0", "late backport");
    auto late = WatchOnce(Watching(), refused);
    ASSERT_TRUE(late);
    EXPECT_TRUE(late->published.empty());
    ASSERT_EQ(1u, late->refused.size());
    EXPECT_NE(std::string::npos, late->refused[0].find("version-not-newer"));
}

TEST_F(GitPublishTest, ListAndShowDescribeTheCatalog) {
    auto opts = PublishOpts("v1.0.0");
    opts.rollout = Rollout{{{25, 1700000000}}, 30, 5};
    // Two approvals, but root v1 lists no approver key: nobody could ever approve it.
    opts.min_approvals = 2;
    auto unmeetable = Publish(opts);
    ASSERT_FALSE(unmeetable);
    EXPECT_EQ("unmeetable-approvals", unmeetable.error().reason);
    opts.min_approvals = 0;
    ASSERT_TRUE(Publish(opts));
    ASSERT_TRUE(Publish(PublishOpts("v1.1.0")));
    auto other = PublishOpts("v1.0.0");
    other.product = "doorbell";
    ASSERT_TRUE(Publish(other));

    auto list = ListCatalog(data());
    ASSERT_TRUE(list) << list.error().ToString();
    EXPECT_EQ("acme", (*list)["vendor"]);
    EXPECT_EQ(1u, (*list)["root_version"].get<std::uint64_t>());
    ASSERT_EQ(2u, (*list)["products"].size());
    EXPECT_EQ("cam", (*list)["products"][0]["product"]);
    EXPECT_EQ(2u, (*list)["products"][0]["releases"].get<std::uint64_t>());
    EXPECT_EQ("1.1.0", (*list)["products"][0]["latest_version"]);
    EXPECT_EQ("doorbell", (*list)["products"][1]["product"]);
    EXPECT_EQ(3u, (*list)["outbox_pending"].get<std::uint64_t>());

    auto show = ShowProduct(data(), "cam");
    ASSERT_TRUE(show) << show.error().ToString();
    const Json& rels = (*show)["releases"];
    ASSERT_EQ(2u, rels.size());
    EXPECT_EQ(25, rels[0]["rollout"]["stages"][0]["percent"]);
    EXPECT_EQ(1700000000, rels[0]["rollout"]["stages"][0]["start"]);
    EXPECT_EQ(30, rels[0]["rollout"]["max_failure_rate"]);
    EXPECT_EQ(0, rels[0]["min_approvals"]);
    EXPECT_TRUE(rels[1]["rollout"].is_null());
    EXPECT_EQ(0, rels[1]["min_approvals"]);
    EXPECT_EQ("pending", rels[0]["ledger"]);
    EXPECT_EQ(commit1_, rels[0]["commit"]);
    EXPECT_EQ("First release", rels[0]["source"]["notes"]);
    EXPECT_EQ(40u, rels[1]["torrent"]["infohash_v1"].get<std::string>().size());

    // The manifest itself carries the rollout settings, signed.
    auto text = ReadFile(DataDir(data()).ManifestFile("cam", 1));
    ASSERT_TRUE(text);
    auto env = ParseEnvelope(*text);
    ASSERT_TRUE(env);
    EXPECT_EQ(25, env->signed_doc["rollout"]["stages"][0]["percent"]);
    EXPECT_EQ(5, env->signed_doc["rollout"]["min_reports"]);

    auto unknown = ShowProduct(data(), "toaster");
    ASSERT_FALSE(unknown);
    EXPECT_EQ("unknown-product", unknown.error().reason);
    EXPECT_FALSE(ShowProduct(data(), "../etc"));

    auto bad = PublishOpts("v1.2.0");
    bad.allow_lightweight = true;
    bad.rollout = Rollout{{{0, 0}}, 0, 0};
    auto r = Publish(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ("bad-rollout", r.error().reason);
}

}  // namespace
}  // namespace fwchain::vendor
