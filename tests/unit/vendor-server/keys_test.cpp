// Key rotation (TUF root chain) and revocation: an old device walks v1 -> v2 -> v3, accepts
// releases signed by the new release key and refuses what the retired key signs.
#include "vendor-server/keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/provision.hpp"

namespace fwchain::vendor {
namespace {

class KeysTest : public test::VendorFixture {
  protected:
    Envelope RootEnv(std::uint64_t v) {
        auto env = LoadRootEnvelope(DataDir(data()), v);
        EXPECT_TRUE(env) << v;
        return env ? *env : Envelope{};
    }
    Envelope Manifest(std::uint64_t seq) {
        auto text = ReadFile(DataDir(data()).ManifestFile("cam", seq));
        EXPECT_TRUE(text);
        auto env = ParseEnvelope(text ? *text : std::string("{}"));
        EXPECT_TRUE(env);
        return env ? *env : Envelope{};
    }
    Timestamp Ts() {
        auto ts = LoadTimestamp(DataDir(data()));
        EXPECT_TRUE(ts && *ts);
        return ts && *ts ? **ts : Timestamp{};
    }
    std::optional<Tx> OutboxTx(const std::string& id) {
        auto cat = Catalog::Open(DataDir(data()).Catalog());
        EXPECT_TRUE(cat);
        auto row = cat->OutboxEntry(id);
        EXPECT_TRUE(row && *row) << id;
        if (!row || !*row) return std::nullopt;
        auto j = ParseJson((*row)->tx_json);
        auto tx = ParseTx(*j);
        EXPECT_TRUE(tx) << tx.error().ToString();
        return tx ? std::optional<Tx>(*tx) : std::nullopt;
    }
    RotateOptions Rotate(std::vector<std::string> roles) {
        RotateOptions o;
        o.data_dir = data();
        o.roles = std::move(roles);
        return o;
    }
    static unsigned Mode(const std::string& path) {
        struct stat st {};
        EXPECT_EQ(0, ::stat(path.c_str(), &st)) << path;
        return st.st_mode & 0777u;
    }
    DeviceMatch Device(std::uint64_t installed) {
        DeviceMatch d;
        d.vendor = "acme";
        d.product = "cam";
        d.hardware = "rev-b";
        d.installed_sequence = installed;
        return d;
    }
};

TEST_F(KeysTest, AnOldDeviceWalksTheRootChainAndOnlyTrustsTheNewReleaseKey) {
    ASSERT_TRUE(Publish(PublishOpts("v1.0.0")));
    const DataDir dir(data());
    auto old_release = SigningKey::Load(dir.Key("release"));
    ASSERT_TRUE(old_release);

    // A device provisioned before the rotation pins root v1.
    const std::int64_t now = NowSeconds();
    auto pinned = VerifyInitialRoot(RootEnv(1), now);
    ASSERT_TRUE(pinned) << pinned.error().ToString();

    auto rot = RotateRoot(Rotate({"release"}));
    ASSERT_TRUE(rot) << rot.error().ToString();
    EXPECT_EQ(2u, rot->version);
    ASSERT_EQ(1u, rot->keyids.count("release"));
    EXPECT_NE(old_release->Id(), rot->keyids.at("release"));
    EXPECT_EQ(std::vector<std::string>{old_release->Id()}, rot->removed);

    // Key files: the new one in place, the old one retired; both private to the owner.
    auto new_release = SigningKey::Load(dir.Key("release"));
    ASSERT_TRUE(new_release);
    EXPECT_EQ(rot->keyids.at("release"), new_release->Id());
    const std::string retired = dir.RetiredKeysDir() + "/release-" + old_release->Id() + ".key";
    EXPECT_EQ(0600u, Mode(dir.Key("release")));
    EXPECT_EQ(0600u, Mode(retired));
    EXPECT_FALSE(FileExists(dir.Key("release") + ".new"));

    // The `root` tx (docs/protocol.md): by a root key of root v1, naming v2 and its hash.
    auto tx = OutboxTx(rot->tx_id);
    ASSERT_TRUE(tx);
    EXPECT_EQ("root", tx->type);
    EXPECT_EQ("acme", tx->recipient);
    EXPECT_EQ("2", tx->ver);
    EXPECT_EQ(RootEnv(2).SignedHash(), tx->verifier);
    EXPECT_EQ(RootEnv(2).ToJson(), tx->body.at("root"));
    EXPECT_TRUE(pinned->HasRoleKey("root", *PublicKeyFromHex(tx->sender)));

    // The device walks v1 -> v2 (never skipping) and takes the new release key from it.
    auto root2 = VerifyRootChain(*pinned, {RootEnv(2)}, now);
    ASSERT_TRUE(root2) << root2.error().ToString();
    EXPECT_TRUE(root2->HasRoleKey("release", new_release->Public()));
    EXPECT_FALSE(root2->HasRoleKey("release", old_release->Public()));

    // The timestamp was re-signed for root v2.
    auto ts = VerifyTimestamp(*root2, Ts().envelope, now, {});
    ASSERT_TRUE(ts) << ts.error().ToString();
    EXPECT_EQ(2u, ts->root_version);

    // A release published after the rotation is signed by the new key and accepted...
    auto pub = Publish(PublishOpts("v1.1.0"));
    ASSERT_TRUE(pub) << pub.error().ToString();
    auto ts2 = VerifyTimestamp(*root2, Ts().envelope, now, {});
    ASSERT_TRUE(ts2);
    const Envelope m2 = Manifest(2);
    auto accepted = VerifyRelease(*root2, m2, now, Device(1), *ts2);
    ASSERT_TRUE(accepted) << accepted.error().ToString();
    EXPECT_EQ(2u, accepted->sequence);

    // ...while the same manifest signed by the retired key is refused after rotation (it
    // would have passed under root v1: the rotation is what refuses it).
    auto retired_key = SigningKey::Load(retired);
    ASSERT_TRUE(retired_key);
    const Envelope forged = SignDocument(m2.signed_doc, {&*retired_key});
    auto refused = VerifyRelease(*root2, forged, now, Device(1), *ts2);
    ASSERT_FALSE(refused);
    EXPECT_EQ("bad-signature", refused.error().reason);
    EXPECT_TRUE(VerifyRelease(*pinned, forged, now, Device(1), *ts2));

    // Its release tx is signed by the new key too.
    auto rel_tx = OutboxTx(pub->tx_id);
    ASSERT_TRUE(rel_tx);
    EXPECT_EQ(new_release->PublicHex(), rel_tx->sender);
}

TEST_F(KeysTest, RotatingTheRootKeyNeedsBothOldAndNewSignatures) {
    ASSERT_TRUE(RotateRoot(Rotate({"release"})));
    const DataDir dir(data());
    auto old_root = SigningKey::Load(dir.Key("root"));
    ASSERT_TRUE(old_root);
    auto rot = RotateRoot(Rotate({"root"}));
    ASSERT_TRUE(rot) << rot.error().ToString();
    EXPECT_EQ(3u, rot->version);
    auto new_root = SigningKey::Load(dir.Key("root"));
    ASSERT_TRUE(new_root);
    EXPECT_NE(old_root->Id(), new_root->Id());

    const Envelope v3 = RootEnv(3);
    EXPECT_EQ(2u, v3.signatures.size());
    const std::int64_t now = NowSeconds();
    auto v1 = VerifyInitialRoot(RootEnv(1), now);
    ASSERT_TRUE(v1);
    auto walked = VerifyRootChain(*v1, {RootEnv(2), v3}, now);
    ASSERT_TRUE(walked) << walked.error().ToString();
    EXPECT_EQ(3u, walked->version);
    EXPECT_TRUE(walked->HasRoleKey("root", new_root->Public()));
    // Skipping v2 is not allowed.
    EXPECT_FALSE(VerifyRootChain(*v1, {v3}, now));
    // The root tx of v3 is sent by the *old* root key (the current one for the ledger).
    auto tx = OutboxTx(rot->tx_id);
    ASSERT_TRUE(tx);
    EXPECT_EQ(old_root->PublicHex(), tx->sender);
    EXPECT_EQ("3", tx->ver);

    // The next rotation is authorised by the new root key alone.
    auto next = RotateRoot(Rotate({"admission"}));
    ASSERT_TRUE(next) << next.error().ToString();
    auto v4 = VerifyRootChain(*walked, {RootEnv(4)}, now);
    ASSERT_TRUE(v4) << v4.error().ToString();
    auto tx4 = OutboxTx(next->tx_id);
    ASSERT_TRUE(tx4);
    EXPECT_EQ(new_root->PublicHex(), tx4->sender);
}

TEST_F(KeysTest, RevokingTheTimestampKeyReplacesItAndReSignsTheTimestamp) {
    const DataDir dir(data());
    auto old_ts = SigningKey::Load(dir.Key("timestamp"));
    ASSERT_TRUE(old_ts);
    RotateOptions o;
    o.data_dir = data();
    o.revoke_keyids = {old_ts->Id()};
    auto r = RotateRoot(o);
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(1u, r->keyids.count("timestamp"));
    const std::int64_t now = NowSeconds();
    auto v1 = VerifyInitialRoot(RootEnv(1), now);
    auto v2 = VerifyRootChain(*v1, {RootEnv(2)}, now);
    ASSERT_TRUE(v2);
    EXPECT_FALSE(v2->HasRoleKey("timestamp", old_ts->Public()));
    EXPECT_TRUE(VerifyTimestamp(*v2, Ts().envelope, now, {}));
    // A timestamp from the revoked key no longer verifies.
    Json doc = Ts().envelope.signed_doc;
    doc["version"] = doc["version"].get<std::uint64_t>() + 1;
    EXPECT_FALSE(VerifyTimestamp(*v2, SignDocument(doc, {&*old_ts}), now, {}));
}

TEST_F(KeysTest, RefusesUnknownRolesAndKeysAndWritesNothing) {
    const DataDir dir(data());
    auto bad_role = RotateRoot(Rotate({"approver"}));
    ASSERT_FALSE(bad_role);
    EXPECT_EQ("bad-role", bad_role.error().reason);
    RotateOptions o;
    o.data_dir = data();
    o.revoke_keyids = {std::string(64, 'a')};
    auto unknown = RotateRoot(o);
    ASSERT_FALSE(unknown);
    EXPECT_EQ("unknown-key", unknown.error().reason);
    auto nothing = RotateRoot(Rotate({}));
    ASSERT_FALSE(nothing);
    EXPECT_FALSE(FileExists(dir.RootFile(2)));
    auto cat = Catalog::Open(dir.Catalog());
    ASSERT_TRUE(cat);
    EXPECT_TRUE(cat->PendingOutbox()->empty());
}

TEST_F(KeysTest, RevokesDevicesAndGatewaysOnce) {
    ProvisionOptions p;
    p.data_dir = data();
    p.device_id = "dev-1";
    p.product = "cam";
    p.hardware = "rev-b";
    p.out_dir = tmp_ / "dev-1";
    auto admitted = Provision(p);
    ASSERT_TRUE(admitted) << admitted.error().ToString();
    AdmitGatewayOptions g;
    g.data_dir = data();
    g.name = "gw-1";
    g.public_hex = SigningKey::Generate().PublicHex();
    ASSERT_TRUE(AdmitGateway(g));

    RevokeOptions r;
    r.data_dir = data();
    r.device_id = "dev-1";
    auto revoked = Revoke(r);
    ASSERT_TRUE(revoked) << revoked.error().ToString();
    auto tx = OutboxTx(revoked->tx_id);
    ASSERT_TRUE(tx);
    EXPECT_EQ("revoke", tx->type);
    EXPECT_EQ("dev-1", tx->recipient);
    EXPECT_EQ(admitted->key, tx->body.at("key"));
    EXPECT_EQ("device", tx->body.at("role"));
    auto admission = SigningKey::Load(DataDir(data()).Key("admission"));
    EXPECT_EQ(admission->PublicHex(), tx->sender);

    auto twice = Revoke(r);
    ASSERT_FALSE(twice);
    EXPECT_EQ("already-revoked", twice.error().reason);

    RevokeOptions gw;
    gw.data_dir = data();
    gw.gateway = "gw-1";
    auto gw_revoked = Revoke(gw);
    ASSERT_TRUE(gw_revoked) << gw_revoked.error().ToString();
    EXPECT_EQ(g.public_hex, gw_revoked->key);

    RevokeOptions unknown;
    unknown.data_dir = data();
    unknown.device_id = "nobody";
    auto none = Revoke(unknown);
    ASSERT_FALSE(none);
    EXPECT_EQ("unknown-device", none.error().reason);
    RevokeOptions both = r;
    both.gateway = "gw-1";
    EXPECT_FALSE(Revoke(both));
}

}  // namespace
}  // namespace fwchain::vendor

namespace fwchain::vendor {
namespace {

TEST_F(KeysTest, AddsApproverKeysAndThresholdsThroughANewRoot) {
    const SigningKey qa1 = SigningKey::Generate();
    const SigningKey qa2 = SigningKey::Generate();
    RotateOptions o;
    o.data_dir = data();
    o.add_keys["approver"] = {qa1.PublicHex(), qa2.PublicHex()};
    o.thresholds["approver"] = 2;
    auto r = RotateRoot(o);
    ASSERT_TRUE(r) << r.error().ToString();
    // It says what it added: two outside keys (not "new" keys generated here) and a threshold.
    EXPECT_TRUE(r->keyids.empty());
    ASSERT_EQ(r->added.size(), 2u);
    EXPECT_EQ(r->added[0].role, "approver");
    EXPECT_EQ(r->added[0].keyid, qa1.Id());
    EXPECT_EQ(r->added[1].keyid, qa2.Id());
    EXPECT_EQ(r->thresholds.at("approver"), std::make_pair(std::size_t{2}, std::size_t{2}));
    EXPECT_EQ(r->ToJson()["added"][0]["origin"], "outside");
    const std::int64_t now = NowSeconds();
    auto v1 = VerifyInitialRoot(RootEnv(1), now);
    auto v2 = VerifyRootChain(*v1, {RootEnv(2)}, now);
    ASSERT_TRUE(v2) << v2.error().ToString();
    EXPECT_TRUE(v2->HasRoleKey("approver", qa1.Public()));
    EXPECT_TRUE(v2->HasRoleKey("approver", qa2.Public()));
    EXPECT_EQ(2u, v2->Role("approver")->threshold);

    // A threshold above the role's key count, a duplicate key or a malformed one: refused.
    RotateOptions too_high;
    too_high.data_dir = data();
    too_high.thresholds["release"] = 2;
    auto high = RotateRoot(too_high);
    ASSERT_FALSE(high);
    EXPECT_EQ("role-below-threshold", high.error().reason);
    RotateOptions dup;
    dup.data_dir = data();
    dup.add_keys["approver"] = {qa1.PublicHex()};
    auto reason = [](const Expected<RotateResult>& e) {
        return e ? std::string("ok") : e.error().reason;
    };
    EXPECT_EQ("key-exists", reason(RotateRoot(dup)));
    RotateOptions junk;
    junk.data_dir = data();
    junk.add_keys["approver"] = {"zz"};
    EXPECT_EQ("bad-key", reason(RotateRoot(junk)));
    EXPECT_FALSE(FileExists(DataDir(data()).RootFile(3)));
}

}  // namespace
}  // namespace fwchain::vendor

namespace fwchain::vendor {
namespace {

TEST_F(KeysTest, AFailedRotationRestoresTheOldKeysAndWritesNoRoot) {
    const DataDir dir(data());
    auto before = SigningKey::Load(dir.Key("release"));
    ASSERT_TRUE(before);
    const std::string ts_text = test::ReadText(dir.TimestampFile());
    // Fail late, after the key swap: the timestamp cannot be read back.
    ASSERT_EQ(0, ::unlink(dir.TimestampFile().c_str()));
    ASSERT_EQ(0, ::mkdir(dir.TimestampFile().c_str(), 0700));
    auto r = RotateRoot(Rotate({"release"}));
    ASSERT_FALSE(r);
    EXPECT_FALSE(FileExists(dir.RootFile(2)));
    auto after = SigningKey::Load(dir.Key("release"));
    ASSERT_TRUE(after) << after.error().ToString();
    EXPECT_EQ(before->Id(), after->Id());
    EXPECT_FALSE(FileExists(dir.Key("release") + ".new"));
    EXPECT_FALSE(FileExists(dir.RetiredKeysDir() + "/release-" + before->Id() + ".key"));
    auto cat = Catalog::Open(dir.Catalog());
    ASSERT_TRUE(cat);
    EXPECT_TRUE(cat->PendingOutbox()->empty());

    // Once the fault is gone, the rotation goes through.
    ASSERT_EQ(0, ::rmdir(dir.TimestampFile().c_str()));
    ASSERT_TRUE(WriteFileAtomic(dir.TimestampFile(), ts_text));
    auto ok = RotateRoot(Rotate({"release"}));
    ASSERT_TRUE(ok) << ok.error().ToString();
    EXPECT_EQ(2u, ok->version);
}

}  // namespace
}  // namespace fwchain::vendor
