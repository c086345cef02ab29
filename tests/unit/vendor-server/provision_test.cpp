#include "vendor-server/provision.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"

namespace fwchain::vendor {
namespace {

class ProvisionTest : public test::VendorFixture {
  protected:
    ProvisionOptions Opts(const std::string& id) {
        ProvisionOptions o;
        o.data_dir = data();
        o.device_id = id;
        o.product = "cam";
        o.hardware = "rev-b";
        o.out_dir = tmp_ / ("dev-" + id);
        o.max_image_size = 1 << 20;
        return o;
    }
    Tx OutboxTx(const std::string& tx_id) {
        auto cat = Catalog::Open(DataDir(data()).Catalog());
        EXPECT_TRUE(cat);
        auto row = cat->OutboxEntry(tx_id);
        EXPECT_TRUE(row && *row);
        auto j = ParseJson((*row)->tx_json);
        EXPECT_TRUE(j);
        auto tx = ParseTx(*j);
        EXPECT_TRUE(tx) << tx.error().ToString();
        return *tx;
    }
};

TEST_F(ProvisionTest, WritesADeviceIdentityAndAnAdmitTx) {
    auto r = Provision(Opts("dev-001"));
    ASSERT_TRUE(r) << r.error().ToString();
    const std::string out = tmp_ / "dev-dev-001";

    struct stat st {};
    ASSERT_EQ(0, ::stat((out + "/device.key").c_str(), &st));
    EXPECT_EQ(0600u, st.st_mode & 0777u);
    auto key = SigningKey::Load(out + "/device.key");
    ASSERT_TRUE(key) << key.error().ToString();
    EXPECT_EQ(r->key, key->PublicHex());

    auto device = LoadJsonFile(out + "/device.json");
    ASSERT_TRUE(device);
    EXPECT_EQ("dev-001", device->at("device_id"));
    EXPECT_EQ("acme", device->at("vendor"));
    EXPECT_EQ("cam", device->at("product"));
    EXPECT_EQ("rev-b", device->at("hardware"));
    EXPECT_EQ(1u << 20, device->at("max_image_size").get<std::uint64_t>());
    // The ledger anchor (docs/protocol.md "Ledger proofs for devices"): the genesis block as
    // checkpoint (no signed checkpoint yet), the genesis miners, the chain's difficulty.
    auto cfg = VendorConfig::Load(DataDir(data()));
    ASSERT_TRUE(cfg);
    EXPECT_EQ(Json({{"hash", cfg->genesis_hash}, {"height", 0}}), device->at("ledger_checkpoint"));
    auto genesis = LoadJsonFile(DataDir(data()).Genesis());
    ASSERT_TRUE(genesis);
    EXPECT_EQ((*genesis)["txs"][0]["body"]["miners"], device->at("ledger_genesis_miners"));
    EXPECT_EQ(1u, device->at("ledger_genesis_miners").size());
    EXPECT_EQ((*genesis)["txs"][0]["body"]["params"]["initial_bits"],
              device->at("ledger_min_bits"));

    // The pinned root is the vendor's current root and verifies on its own.
    auto pinned = ReadFile(out + "/root.json");
    ASSERT_TRUE(pinned);
    EXPECT_EQ(test::ReadText(DataDir(data()).RootFile(1)), *pinned);
    auto env = ParseEnvelope(std::string_view(*pinned));
    ASSERT_TRUE(env);
    EXPECT_TRUE(VerifyInitialRoot(*env, NowSeconds()));

    const Tx tx = OutboxTx(r->tx_id);
    EXPECT_EQ("admit", tx.type);
    EXPECT_EQ("dev-001", tx.recipient);
    EXPECT_EQ(key->PublicHex(), tx.body.at("key"));
    EXPECT_EQ("device", tx.body.at("role"));
    EXPECT_EQ("cam", tx.body.at("product"));
    auto admission = SigningKey::Load(DataDir(data()).Key("admission"));
    ASSERT_TRUE(admission);
    EXPECT_EQ(admission->PublicHex(), tx.sender);
    auto root = VerifyInitialRoot(*env, NowSeconds());
    ASSERT_TRUE(root);
    EXPECT_TRUE(root->HasRoleKey("admission", admission->Public()));
}

TEST_F(ProvisionTest, RefusesAnExistingDeviceId) {
    ASSERT_TRUE(Provision(Opts("dev-001")));
    auto again = Opts("dev-001");
    again.out_dir = tmp_ / "elsewhere";
    auto r = Provision(again);
    ASSERT_FALSE(r);
    EXPECT_EQ("device-exists", r.error().reason);
    EXPECT_FALSE(FileExists(tmp_ / "elsewhere/device.key"));
}

TEST_F(ProvisionTest, RefusesToOverwriteADeviceKey) {
    ASSERT_TRUE(Provision(Opts("dev-001")));
    auto other = Opts("dev-002");
    other.out_dir = tmp_ / "dev-dev-001";
    const std::string before = test::ReadText(other.out_dir + "/device.key");
    auto r = Provision(other);
    ASSERT_FALSE(r);
    EXPECT_EQ(before, test::ReadText(other.out_dir + "/device.key"));
}

TEST_F(ProvisionTest, AdmitsAGatewayByPublicKey) {
    const SigningKey gw = SigningKey::Generate();
    ASSERT_TRUE(gw.Save(tmp_ / "gw.key"));
    auto hex = PublicKeyFromFile(tmp_ / "gw.key");
    ASSERT_TRUE(hex) << hex.error().ToString();
    EXPECT_EQ(gw.PublicHex(), *hex);
    test::WriteText(tmp_ / "gw.pub", gw.PublicHex() + "\n");
    auto hex2 = PublicKeyFromFile(tmp_ / "gw.pub");
    ASSERT_TRUE(hex2);
    EXPECT_EQ(gw.PublicHex(), *hex2);

    AdmitGatewayOptions o;
    o.data_dir = data();
    o.name = "home-1";
    o.public_hex = gw.PublicHex();
    auto r = AdmitGateway(o);
    ASSERT_TRUE(r) << r.error().ToString();
    const Tx tx = OutboxTx(r->tx_id);
    EXPECT_EQ("admit", tx.type);
    EXPECT_EQ("home-1", tx.recipient);
    EXPECT_EQ("gateway", tx.body.at("role"));
    EXPECT_EQ(gw.PublicHex(), tx.body.at("key"));
    auto dup = AdmitGateway(o);
    ASSERT_FALSE(dup);
    EXPECT_EQ("gateway-exists", dup.error().reason);

    o.name = "home-2";
    o.public_hex = "zz";
    auto bad = AdmitGateway(o);
    ASSERT_FALSE(bad);
    EXPECT_EQ("bad-key", bad.error().reason);
}

}  // namespace
}  // namespace fwchain::vendor
