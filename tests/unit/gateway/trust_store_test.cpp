#include "gateway/sync/trust_store.hpp"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/gateway/vendor_fixture.hpp"

namespace fwchain::gateway {
namespace {

const std::string kSha(64, 'b');

TEST(TrustStore, RefusesToStartWithoutAPinnedRoot) {
    test::TempDir tmp;
    auto store = TrustStore::Open(tmp.path(), "", NowSeconds());
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().reason, "no-root");
}

TEST(TrustStore, VerifiesAndPersistsAcrossRestarts) {
    test::TestVendor v;
    test::TempDir tmp;
    ASSERT_TRUE(WriteFileAtomic(tmp / "root.json", v.RootV(1, v.root_key).Serialize()));
    {
        auto store = TrustStore::Open(tmp / "gw", tmp / "root.json", v.now);
        ASSERT_TRUE(store) << store.error().ToString();
        auto accepted = (*store)->AcceptTimestamp(v.Timestamp(2, {{"cam", 1}}), v.now);
        ASSERT_TRUE(accepted);
        EXPECT_TRUE(*accepted);
        auto r = (*store)->AcceptRelease(v.Release("cam", 1, {"rev-b"}, kSha), v.now);
        ASSERT_TRUE(r) << r.error().ToString();
    }
    // Without --root the second time: everything comes back from the data dir.
    auto store = TrustStore::Open(tmp / "gw", "", v.now);
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_NE((*store)->timestamp(), nullptr);
    EXPECT_EQ((*store)->timestamp()->version, 2u);
    EXPECT_EQ((*store)->LatestKnown("cam"), 1u);

    // An older timestamp is a rollback; a release the timestamp does not cover is refused.
    auto old = (*store)->AcceptTimestamp(v.Timestamp(1, {{"cam", 1}}), v.now);
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error().reason, "rollback");
    auto uncovered = (*store)->AcceptRelease(v.Release("cam", 2, {"rev-b"}, kSha), v.now);
    ASSERT_FALSE(uncovered);
    EXPECT_EQ(uncovered.error().reason, "mix-and-match");
}

TEST(TrustStore, RefusesReleasesSignedByOtherKeysAndPathTricksInProductNames) {
    test::TestVendor v;
    test::TempDir tmp;
    ASSERT_TRUE(WriteFileAtomic(tmp / "root.json", v.RootV(1, v.root_key).Serialize()));
    auto store = TrustStore::Open(tmp / "gw", tmp / "root.json", v.now);
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->AcceptTimestamp(v.Timestamp(1, {{"cam", 1}, {"../x", 1}}), v.now));

    Envelope forged = v.Release("cam", 1, {"rev-b"}, kSha);
    forged.signatures.clear();
    AddSignature(forged, v.timestamp_key);  // a real vendor key, but not a release key
    auto r = (*store)->AcceptRelease(forged, v.now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "bad-signature");

    auto tricky = (*store)->AcceptRelease(v.Release("../x", 1, {"rev-b"}, kSha), v.now);
    ASSERT_FALSE(tricky);
    EXPECT_EQ(tricky.error().reason, "bad-product");
    EXPECT_EQ((*store)->LatestKnown("cam"), 0u);
}

TEST(TrustStore, WalksTheRootChainAndRefusesARootSignedByStrangers) {
    test::TestVendor v;
    test::TempDir tmp;
    ASSERT_TRUE(WriteFileAtomic(tmp / "root.json", v.RootV(1, v.root_key).Serialize()));
    auto store = TrustStore::Open(tmp / "gw", tmp / "root.json", v.now);
    ASSERT_TRUE(store);
    SigningKey stranger = SigningKey::Generate();
    auto bad = (*store)->AcceptRoots({v.RootV(2, stranger)}, v.now);
    ASSERT_FALSE(bad);
    EXPECT_EQ((*store)->root().version, 1u);
    ASSERT_TRUE((*store)->AcceptRoots({v.RootV(2, v.root_key), v.RootV(3, v.root_key)}, v.now));
    EXPECT_EQ((*store)->root().version, 3u);
    EXPECT_EQ((*store)->roots().size(), 3u);
}

}  // namespace
}  // namespace fwchain::gateway
