#include "ledger/chain/verify.hpp"

#include <gtest/gtest.h>

#include "common/adapters/sqlite.hpp"
#include "fixture.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/chain/tx_codec.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

class VerifyTest : public ::testing::Test {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 1000);
        ChainOptions o;
        o.db_path = path_;
        o.genesis_hash = genesis_.Hash();
        o.genesis = genesis_;
        auto c = Chain::Open(o);
        ASSERT_TRUE(c);
        ASSERT_TRUE((*c)->SubmitTx(testing::AdmitTx(k_.admission, "dev-1", k_.device, "device")));
        for (int i = 0; i < 4; ++i) {
            auto t = (*c)->BuildTemplate(k_.miner.Public(), NowSeconds());
            ASSERT_TRUE(t);
            Block b = *t;
            testing::SolveAndSign(b, k_.miner);
            ASSERT_TRUE((*c)->SubmitBlock(b, NowSeconds()));
            if (i == 1) blocks_2_ = b;
        }
    }

    testing::Keys k_;
    test::TempDir dir_;
    std::string path_ = dir_ / "ledger.sqlite";
    Block genesis_;
    Block blocks_2_;
};

TEST_F(VerifyTest, AnIntactChainVerifies) {
    std::uint64_t last_progress = 0;
    auto r = VerifyStoredChain(path_, genesis_.Hash(),
                               [&](std::uint64_t d, std::uint64_t) { last_progress = d; });
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_FALSE(r->bad_height) << r->reason;
    EXPECT_EQ(r->verified, 5u);
    EXPECT_EQ(last_progress, 4u);
}

TEST_F(VerifyTest, ReportsTheFirstTamperedBlock) {
    // Rewrite block 2's stored JSON with a different message: the signature over the header
    // still holds, so change a tx instead (the Merkle root then no longer matches).
    // Block 2 (empty) gets a validly signed release stored as one of its txs.
    const Tx other = testing::ReleaseTx(k_.release, "cam", "6.6.6", 6);
    {
        auto db = sql::Db::Open(path_);
        ASSERT_TRUE(db);
        auto s = db->Prepare(
            "INSERT INTO txs(pos, id, type, recipient, product, ver, state, "
            "time, data) VALUES(?, ?, 'release', 'cam', 'cam', ?, '', ?, ?)");
        ASSERT_TRUE(s);
        const std::string data = PackTxData(other);
        const Bytes id = *FromHex(other.Id());
        s->Bind(1, std::int64_t{2} << 12)
            .BindBlob(2, id.data(), id.size())
            .Bind(3, other.ver)
            .Bind(4, other.time)
            .BindBlob(5, data.data(), data.size());
        ASSERT_TRUE(s->Run());
        EXPECT_EQ(db->Changes(), 1);
    }
    auto r = VerifyStoredChain(path_, genesis_.Hash(), nullptr);
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_TRUE(r->bad_height);
    EXPECT_EQ(*r->bad_height, 2u);
    EXPECT_NE(r->reason.find("bad-merkle"), std::string::npos) << r->reason;
    EXPECT_EQ(r->verified, 2u);
}

TEST_F(VerifyTest, AnotherGenesisIsReported) {
    testing::Keys other;
    auto r =
        VerifyStoredChain(path_, testing::MakeTestGenesis(other, NowSeconds()).Hash(), nullptr);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->bad_height);
    EXPECT_EQ(*r->bad_height, 0u);
    EXPECT_FALSE(VerifyStoredChain(dir_ / "missing.sqlite", std::nullopt, nullptr));
}

}  // namespace
}  // namespace fwchain::ledger
