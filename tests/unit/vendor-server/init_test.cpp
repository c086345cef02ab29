#include "vendor-server/init.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/core/fs.hpp"
#include "common/core/json.hpp"
#include "common/core/metadata.hpp"
#include "ledger/primitives/block.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {
namespace {

using fwchain::test::TempDir;

Expected<InitResult> InitAt(const std::string& dir) {
    InitOptions o;
    o.data_dir = dir;
    o.vendor = "acme";
    o.bits = 4;
    return Init(o);
}

TEST(VendorInit, CreatesPrivateKeysAndAVerifyingRoot) {
    TempDir tmp;
    const DataDir dir(tmp / "v");
    auto r = InitAt(dir.Root());
    ASSERT_TRUE(r) << r.error().ToString();

    for (const char* role : {"root", "release", "timestamp", "admission", "node"}) {
        struct stat st {};
        ASSERT_EQ(0, ::stat(dir.Key(role).c_str(), &st)) << role;
        EXPECT_EQ(0600u, st.st_mode & 0777u) << role;
        auto key = SigningKey::Load(dir.Key(role));
        ASSERT_TRUE(key) << role << ": " << key.error().ToString();
        if (std::string(role) != "node") {
            EXPECT_EQ(r->keyids.at(role), key->Id());
        }
    }

    auto env = LoadRootEnvelope(dir, 1);
    ASSERT_TRUE(env) << env.error().ToString();
    auto root = VerifyInitialRoot(*env, NowSeconds());
    ASSERT_TRUE(root) << root.error().ToString();
    EXPECT_EQ("acme", root->vendor);
    EXPECT_EQ(1u, root->version);
    EXPECT_EQ(r->root_keyid, root->roles.at("root").keyids.at(0));
    // Separate keys per role: a leaked timestamp key must not sign releases.
    auto release = SigningKey::Load(dir.Key("release"));
    ASSERT_TRUE(release);
    EXPECT_TRUE(root->HasRoleKey("release", release->Public()));
    EXPECT_FALSE(root->HasRoleKey("timestamp", release->Public()));
    EXPECT_FALSE(root->HasRoleKey("root", release->Public()));
    ASSERT_TRUE(root->Role("approver"));
    EXPECT_TRUE(root->Role("approver")->keyids.empty());

    auto ts = LoadTimestamp(dir);
    ASSERT_TRUE(ts && *ts);
    EXPECT_EQ(1u, (*ts)->version);
    EXPECT_TRUE((*ts)->latest.empty());
    EXPECT_EQ(1u, (*ts)->root_version);
    EXPECT_TRUE(VerifyTimestamp(*root, (*ts)->envelope, NowSeconds(), {}))
        << "initial timestamp must verify against root v1";
    EXPECT_LE((*ts)->expires - (*ts)->issued, kDefaultTimestampLifetime);

    auto genesis_json = LoadJsonFile(dir.Genesis());
    ASSERT_TRUE(genesis_json);
    auto genesis = ledger::Block::FromJson(*genesis_json);
    ASSERT_TRUE(genesis) << genesis.error().ToString();
    EXPECT_EQ(r->genesis_hash, ToHex(genesis->Hash()));
    ASSERT_EQ(1u, genesis->txs.size());
    EXPECT_EQ("genesis", genesis->txs[0].type);
    EXPECT_EQ(r->node_key, ToHex(genesis->header.miner));
    EXPECT_EQ(env->SignedHash(), genesis->txs[0].body.at("root_sha256").get<std::string>());

    auto cfg = VendorConfig::Load(dir);
    ASSERT_TRUE(cfg);
    EXPECT_EQ("acme", cfg->vendor);
    EXPECT_EQ(r->genesis_hash, cfg->genesis_hash);
}

// A broken config.json is a file to repair, not a reason to "run init" (init refuses a data
// dir that exists): the error says so and names the file.
TEST(VendorConfig, MalformedConfigIsNamedNotTakenForAMissingDataDir) {
    TempDir tmp;
    const DataDir dir(tmp / "v");
    auto missing = VendorConfig::Load(dir);
    ASSERT_FALSE(missing);
    EXPECT_EQ("not-initialized", missing.error().reason);
    ASSERT_TRUE(InitAt(dir.Root()));
    const std::string good = test::ReadText(dir.Config());
    struct Case {
        const char* name;
        std::string text;
    };
    const Case cases[] = {
        {"not JSON", good.substr(0, good.size() / 2)},
        {"a float", R"({"vendor":"acme","genesis_hash":"00","max_image_size":1.5})"},
        {"no vendor", R"({"genesis_hash":"00"})"}};
    for (const auto& c : cases) {
        ASSERT_TRUE(WriteFileAtomic(dir.Config(), c.text));
        auto cfg = VendorConfig::Load(dir);
        ASSERT_FALSE(cfg) << c.name;
        EXPECT_EQ("bad-config", cfg.error().reason) << c.name;
        EXPECT_NE(cfg.error().message.find(dir.Config()), std::string::npos)
            << c.name << ": " << cfg.error().message;
        EXPECT_EQ(cfg.error().message.find("run `vendor-server init`"), std::string::npos)
            << c.name << ": " << cfg.error().message;
    }
}

TEST(VendorInit, NeverWritesPrivateKeysIntoItsResult) {
    TempDir tmp;
    auto r = InitAt(tmp / "v");
    ASSERT_TRUE(r);
    auto key = SigningKey::Load(tmp / "v/keys/root.key");
    ASSERT_TRUE(key);
    auto file = LoadJsonFile(tmp / "v/keys/root.key");
    ASSERT_TRUE(file);
    const std::string priv = file->at("private").get<std::string>();
    EXPECT_EQ(std::string::npos, r->ToJson().dump().find(priv));
}

TEST(VendorInit, RefusesAnExistingDataDir) {
    TempDir tmp;
    ASSERT_TRUE(InitAt(tmp / "v"));
    const std::string before = test::ReadText(tmp / "v/keys/root.key");
    auto again = InitAt(tmp / "v");
    ASSERT_FALSE(again);
    EXPECT_EQ("exists", again.error().reason);
    EXPECT_EQ(before, test::ReadText(tmp / "v/keys/root.key")) << "keys must not be replaced";
}

TEST(VendorInit, AcceptsAnEmptyDirAndRejectsBadVendorNames) {
    TempDir tmp;
    ASSERT_TRUE(MakeDirs(tmp / "empty"));
    EXPECT_TRUE(InitAt(tmp / "empty"));
    InitOptions o;
    o.data_dir = tmp / "bad";
    o.vendor = "../evil";
    auto r = Init(o);
    ASSERT_FALSE(r);
    EXPECT_EQ("bad-name", r.error().reason);
    EXPECT_FALSE(FileExists(tmp / "bad/keys/root.key"));
}

TEST(VendorNames, OnlySafePathComponents) {
    for (const char* ok : {"cam", "rev-b", "A1", "dev_01.x", "0"}) EXPECT_TRUE(ValidName(ok)) << ok;
    for (const char* bad : {"", ".", "..", ".hidden", "-x", "a/b", "a b", "a\\b", "é", "a%2f"}) {
        EXPECT_FALSE(ValidName(bad)) << bad;
    }
    EXPECT_FALSE(ValidName(std::string(65, 'a')));
    EXPECT_TRUE(ValidName(std::string(64, 'a')));
}

}  // namespace
}  // namespace fwchain::vendor
