#include "ledger/consensus/miner.hpp"

#include <gtest/gtest.h>

#include "fixture.hpp"

namespace fwchain::ledger {
namespace {

BlockHeader SampleHeader() {
    BlockHeader h;
    h.bits = 6;
    h.height = 77;
    h.timestamp = 1700000123;
    h.prev_hash = testing::Leaf(0x11);
    h.merkle_root = testing::Leaf(0x22);
    h.miner = testing::Leaf(0x33);
    h.extra_nonce = 0x0102030405060708ULL;
    return h;
}

TEST(MidstateTest, EqualsPlainSha256OfTheSerialisedHeader) {
    BlockHeader h = SampleHeader();
    MidstateHasher hasher(h);
    for (std::uint64_t nonce : {0ULL, 1ULL, 255ULL, 256ULL, 0xdeadbeefULL, ~0ULL}) {
        h.nonce = nonce;
        const auto bytes = h.Serialize();
        EXPECT_EQ(hasher.HashWithNonce(nonce), Sha256(bytes.data(), bytes.size())) << nonce;
        EXPECT_EQ(hasher.HashWithNonce(nonce), h.Hash());
    }
}

TEST(MidstateTest, DependsOnTheFirst128Bytes) {
    BlockHeader a = SampleHeader();
    BlockHeader b = a;
    b.extra_nonce ^= 1;
    EXPECT_NE(MidstateHasher(a).HashWithNonce(5), MidstateHasher(b).HashWithNonce(5));
}

TEST(MinerTest, FindsAHeaderMeetingBitsWithSeveralThreads) {
    BlockHeader t = SampleHeader();
    t.bits = 8;
    std::atomic<bool> stop{false};
    MinerOptions mo;
    mo.threads = 2;
    mo.extra_nonce_base = 1000;
    MineStats stats;
    auto h = MineHeader(t, mo, stop, &stats);
    ASSERT_TRUE(h);
    EXPECT_TRUE(MeetsBits(h->Hash(), 8));
    EXPECT_GE(stats.hashes, 1u);
    // Only the nonces change; everything a block commits to stays.
    EXPECT_EQ(h->merkle_root, t.merkle_root);
    EXPECT_EQ(h->prev_hash, t.prev_hash);
    EXPECT_EQ(h->height, t.height);
    EXPECT_TRUE(h->extra_nonce == 1000 || h->extra_nonce == 1001 || h->extra_nonce >= 1002);
}

TEST(MinerTest, StopFlagEndsTheSearch) {
    BlockHeader t = SampleHeader();
    t.bits = 200;  // unreachable
    std::atomic<bool> stop{true};
    MinerOptions mo;
    mo.threads = 2;
    EXPECT_FALSE(MineHeader(t, mo, stop));
}

}  // namespace
}  // namespace fwchain::ledger
