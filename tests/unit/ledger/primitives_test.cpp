#include <gtest/gtest.h>

#include "common/core/crypto.hpp"
#include "fixture.hpp"
#include "ledger/primitives/block.hpp"
#include "ledger/primitives/merkle.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;

Hash256 Leaf(std::uint8_t v) {
    Hash256 h{};
    h.fill(v);
    return h;
}

Hash256 Pair(const Hash256& a, const Hash256& b) {
    Bytes buf(a.begin(), a.end());
    buf.insert(buf.end(), b.begin(), b.end());
    return Sha256(buf);
}

TEST(HeaderTest, LayoutIsLittleEndianWithNonceLast) {
    BlockHeader h;
    h.version = 0x01020304;
    h.bits = 0x0a0b0c0d;
    h.height = 0x1122334455667788ULL;
    h.timestamp = 0x0102030405060708LL;
    h.prev_hash = Leaf(0xaa);
    h.merkle_root = Leaf(0xbb);
    h.miner = Leaf(0xcc);
    h.extra_nonce = 0x99;
    h.nonce = 0xdeadbeefULL;
    const auto b = h.Serialize();
    EXPECT_EQ(b[0], 0x04);
    EXPECT_EQ(b[3], 0x01);
    EXPECT_EQ(b[4], 0x0d);
    EXPECT_EQ(b[8], 0x88);
    EXPECT_EQ(b[15], 0x11);
    EXPECT_EQ(b[16], 0x08);
    EXPECT_EQ(b[24], 0xaa);
    EXPECT_EQ(b[56], 0xbb);
    EXPECT_EQ(b[88], 0xcc);
    EXPECT_EQ(b[120], 0x99);
    EXPECT_EQ(b[128], 0xef);
    EXPECT_EQ(b[131], 0xde);
    EXPECT_EQ(b[135], 0x00);

    const BlockHeader back = BlockHeader::Deserialize(b.data());
    EXPECT_EQ(back.Serialize(), b);
    EXPECT_EQ(h.Hash(), Sha256(b.data(), b.size()));
}

TEST(MeetsBitsTest, Table) {
    struct Case {
        std::uint8_t first, second;
        std::uint32_t bits;
        bool meets;
    };
    const Case cases[] = {
        {0xff, 0xff, 0, true},   {0x7f, 0xff, 1, true},  {0x80, 0x00, 1, false},
        {0x0f, 0xff, 4, true},   {0x10, 0x00, 4, false}, {0x00, 0xff, 8, true},
        {0x00, 0x80, 9, false},  {0x00, 0x7f, 9, true},  {0x00, 0x00, 16, true},
        {0x00, 0x01, 16, false},
    };
    for (const auto& c : cases) {
        Hash256 h{};
        h.fill(0xff);
        h[0] = c.first;
        h[1] = c.second;
        if (c.bits >= 16 && c.meets) h[2] = 0xff;
        EXPECT_EQ(MeetsBits(h, c.bits), c.meets) << "bits " << c.bits;
    }
    EXPECT_TRUE(MeetsBits(Hash256{}, 256));
    EXPECT_FALSE(MeetsBits(Hash256{}, 257));
}

TEST(MerkleTest, KnownValues) {
    EXPECT_EQ(MerkleRoot({}), Hash256{});
    EXPECT_EQ(MerkleRoot({Leaf(7)}), Leaf(7));
    // SHA-256 of 64 zero bytes.
    EXPECT_EQ(ToHex(MerkleRoot({Hash256{}, Hash256{}})),
              "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
    const Hash256 a = Leaf(1), b = Leaf(2), c = Leaf(3);
    // Odd level: the last node is paired with itself.
    EXPECT_EQ(MerkleRoot({a, b, c}), Pair(Pair(a, b), Pair(c, c)));
    EXPECT_NE(MerkleRoot({a, b, c}), MerkleRoot({b, a, c}));
}

TEST(MerkleTest, ProofsVerifyForEveryLeafAndSize) {
    for (std::size_t n = 1; n <= 9; ++n) {
        std::vector<Hash256> leaves;
        for (std::size_t i = 0; i < n; ++i) leaves.push_back(Leaf(static_cast<std::uint8_t>(i)));
        const Hash256 root = MerkleRoot(leaves);
        for (std::size_t i = 0; i < n; ++i) {
            auto proof = MakeMerkleProof(leaves, i);
            EXPECT_EQ(MerkleRootFromProof(leaves[i], proof), root) << n << "/" << i;
            auto back = MerkleProofFromJson(MerkleProofToJson(proof));
            ASSERT_TRUE(back);
            EXPECT_EQ(MerkleRootFromProof(leaves[i], *back), root);
            // A different leaf must not verify with this path.
            EXPECT_NE(MerkleRootFromProof(Leaf(0xee), proof), root);
        }
    }
}

TEST(ChainParamsTest, JsonRoundTripAndLimits) {
    ChainParams p = testing::TestParams();
    auto back = ChainParams::FromJson(p.ToJson());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->ToJson(), p.ToJson());
    Json bad = p.ToJson();
    bad["initial_bits"] = 121;
    EXPECT_FALSE(ChainParams::FromJson(bad));
    bad = p.ToJson();
    bad["retarget_window"] = 1;
    EXPECT_FALSE(ChainParams::FromJson(bad));
    bad = p.ToJson();
    bad.erase("confirmations");
    EXPECT_FALSE(ChainParams::FromJson(bad));
}

TEST(BlockTest, GenesisJsonRoundTripAndParse) {
    Keys k;
    const Block g = testing::MakeTestGenesis(k, 1700000000);
    EXPECT_TRUE(MeetsBits(g.Hash(), 4));
    EXPECT_EQ(g.header.height, 0u);
    EXPECT_EQ(g.header.merkle_root, MerkleRootOfTxs(g.txs));
    auto back = Block::FromJson(ParseJson(g.ToJson().dump()).value());
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(back->Hash(), g.Hash());
    EXPECT_EQ(back->ToJson(), g.ToJson());

    auto info = ParseGenesisTx(g.txs[0]);
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_EQ(info->root.vendor, "acme");
    ASSERT_EQ(info->miners.size(), 1u);
    EXPECT_EQ(info->miners[0], k.miner.Public());
    EXPECT_EQ(info->params.retarget_window, 8u);
}

TEST(BlockTest, FromJsonRejectsBadShapes) {
    Keys k;
    const Json good = testing::MakeTestGenesis(k, 1700000000).ToJson();
    auto mutate = [&](auto fn) {
        Json j = good;
        fn(j);
        return Block::FromJson(j);
    };
    EXPECT_FALSE(mutate([](Json& j) { j["header"] = "00"; }));
    EXPECT_FALSE(mutate([](Json& j) { j["hash"] = std::string(64, '0'); }));
    EXPECT_FALSE(mutate([](Json& j) { j["miner_sig"] = "zz"; }));
    EXPECT_FALSE(mutate([](Json& j) { j["message"] = std::string(300, 'x'); }));
    EXPECT_FALSE(mutate([](Json& j) { j["txs"][0]["recipient"] = "mallory"; }));  // bad tx sig
    EXPECT_FALSE(mutate([](Json& j) { j.erase("txs"); }));
    EXPECT_TRUE(mutate([](Json&) {}));
}

// The encodings EncodedBlock computes once must be exactly what Canonical() and Tx::Id() give.
TEST(BlockTest, EncodedBlockMatchesTheJsonAndKnowsWhetherItVerified) {
    Keys k;
    SigningKey dev = SigningKey::Generate();
    Block b = testing::MakeTestGenesis(k, 1700000000);
    b.txs.push_back(testing::AdmitTx(k.admission, "dev-\"1\"", dev, "device"));
    for (std::uint64_t n = 1; n <= 40; ++n) b.txs.push_back(testing::UpdateTx(dev, "dev-1", n));
    b.message = "caf\xc3\xa9 \"quoted\" \\ \x01";
    const EncodedBlock local = EncodedBlock::Encode(b);
    EXPECT_FALSE(local.signatures_verified());
    EXPECT_TRUE(EncodedBlock::Encode(b, true).signatures_verified());
    EXPECT_EQ(local.text(), Canonical(b.ToJson()));
    ASSERT_EQ(local.tx_ids().size(), b.txs.size());
    for (std::size_t i = 0; i < b.txs.size(); ++i) {
        EXPECT_EQ(local.tx_ids()[i], b.txs[i].Id());
        EXPECT_EQ(local.tx_texts()[i], Canonical(b.txs[i].ToJson()));
    }
    // 42 txs: Parse spreads them over worker threads; order and encodings are kept.
    auto parsed = EncodedBlock::Parse(ParseJson(local.text()).value());
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    EXPECT_TRUE(parsed->signatures_verified());
    EXPECT_EQ(parsed->text(), local.text());
    EXPECT_EQ(parsed->tx_ids(), local.tx_ids());
    // The ids as bytes, for the Merkle root and the duplicate check, are the same ids.
    for (const EncodedBlock* e : {&local, static_cast<const EncodedBlock*>(&*parsed)}) {
        ASSERT_EQ(e->tx_hashes().size(), b.txs.size());
        for (std::size_t i = 0; i < b.txs.size(); ++i) {
            EXPECT_EQ(ToHex(e->tx_hashes()[i]), b.txs[i].Id());
        }
        EXPECT_EQ(MerkleRoot(e->tx_hashes()), MerkleRootOfTxs(b.txs));
    }
    // Parsing a document given up (moved from) gives the same block, on one thread or several,
    // with the signatures checked or assumed.
    const EncodedBlock::AssumeValid all = [](const Hash256&) { return true; };
    for (unsigned threads : {1u, 4u}) {
        for (const EncodedBlock::AssumeValid* assume :
             {&all, static_cast<decltype(&all)>(nullptr)}) {
            Json doc = ParseJson(local.text()).value();
            auto moved = EncodedBlock::Parse(std::move(doc), threads, assume);
            ASSERT_TRUE(moved) << moved.error().ToString();
            EXPECT_EQ(moved->signatures_assumed(), assume != nullptr);
            EXPECT_EQ(moved->text(), local.text());
            EXPECT_EQ(moved->tx_ids(), local.tx_ids());
            EXPECT_EQ(moved->tx_texts(), local.tx_texts());
            EXPECT_EQ(moved->tx_hashes(), local.tx_hashes());
            EXPECT_EQ(moved->block().ToJson(), b.ToJson());
        }
    }
    // One bad signature among many fails the block and names the tx.
    Json tampered = b.ToJson();
    tampered["txs"][37]["nonce"] = 999;
    auto bad = EncodedBlock::Parse(tampered);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("tx 37"), std::string::npos) << bad.error().message;
    auto bad_moved = EncodedBlock::Parse(Json(tampered));
    ASSERT_FALSE(bad_moved);
    EXPECT_EQ(bad_moved.error().ToString(), bad.error().ToString());
}

}  // namespace
}  // namespace fwchain::ledger
