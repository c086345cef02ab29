#include "ledger/consensus/miner.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "fixture.hpp"
#include "ledger/consensus/sha256_ni.hpp"

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

// Scan must return exactly the first nonce a one-by-one search finds, whichever kernel runs.
TEST(MidstateTest, ScanFindsTheFirstNonceMeetingBits) {
    BlockHeader h = SampleHeader();
    MidstateHasher hasher(h);
    for (std::uint32_t bits : {0u, 1u, 5u, 8u, 11u}) {
        for (std::uint64_t first : {0ULL, 7ULL, 0xFFFFFFF0ULL}) {
            std::optional<std::uint64_t> expected;
            for (std::uint64_t n = first; n < first + 20000 && !expected; ++n) {
                if (MeetsBits(hasher.HashWithNonce(n), bits)) expected = n;
            }
            ASSERT_TRUE(expected) << bits;
            // An odd count ending right at the answer, one short of it, and a long range.
            const std::uint64_t upto = *expected - first + 1;
            EXPECT_EQ(hasher.Scan(first, upto, bits), expected) << bits << " " << first;
            EXPECT_EQ(hasher.Scan(first, upto - 1, bits), std::nullopt) << bits << " " << first;
            EXPECT_EQ(hasher.Scan(first, 20000, bits), expected) << bits << " " << first;
        }
    }
    EXPECT_EQ(hasher.Scan(0, 5000, 200), std::nullopt);
    EXPECT_EQ(hasher.Scan(3, 0, 0), std::nullopt);
}

// The flags the kernel needs, as the kernel (Linux) reports them.
bool CpuinfoListsShaNi() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        std::set<std::string> flags{std::istream_iterator<std::string>(words), {}};
        return flags.count("sha_ni") && flags.count("ssse3") && flags.count("sse4_1");
    }
    return false;
}

// The miner uses the SHA-NI kernel exactly where the CPU has it; where it does not, the
// portable path (MidstateTest above) is what runs, and the kernel must not be called.
TEST(ShaNiTest, DetectedExactlyWhereTheCpuHasIt) {
    EXPECT_EQ(shani::Available(), CpuinfoListsShaNi());
}

TEST(ShaNiTest, CompressionMatchesTheReference) {
    if (!shani::Available()) return;  // nothing to run here: see DetectedExactly...
    // SHA-256("abc"): one block, FIPS 180-4 example.
    std::uint32_t state[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::uint32_t block[16] = {0x61626380};
    block[15] = 24;
    shani::Compress(state, block);
    const std::uint32_t expected[8] = {0xba7816bf, 0x8f01cfea, 0x414140de, 0x5dae2223,
                                       0xb00361a3, 0x96177a9c, 0xb410ff61, 0xf20015ad};
    for (int i = 0; i < 8; ++i) EXPECT_EQ(state[i], expected[i]) << i;
}

TEST(ShaNiTest, ScanAgreesWithThePortableHash) {
    if (!shani::Available()) return;  // nothing to run here: see DetectedExactly...
    BlockHeader h = SampleHeader();
    const auto bytes = h.Serialize();
    // The midstate over the first two blocks, through the reference compression.
    std::uint32_t mid[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    for (std::size_t b = 0; b < 128; b += 64) {
        std::uint32_t block[16];
        for (std::size_t i = 0; i < 16; ++i) {
            const std::uint8_t* p = bytes.data() + b + 4 * i;
            block[i] = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                       (std::uint32_t{p[2]} << 8) | p[3];
        }
        shani::Compress(mid, block);
    }
    MidstateHasher hasher(h);
    // bits 0 accepts every hash, so each single-nonce scan returns its nonce; 12 bits needs
    // thousands of tries, so the interleaved pair and the candidate check are both exercised.
    for (std::uint64_t n : {0ULL, 1ULL, 0x100000000ULL, ~0ULL - 1}) {
        std::uint64_t found = 42;
        ASSERT_TRUE(shani::ScanNonces(mid, n, 1, 0, &found));
        EXPECT_EQ(found, n);
    }
    std::uint64_t found = 0;
    ASSERT_TRUE(shani::ScanNonces(mid, 0, 1u << 20, 12, &found));
    EXPECT_TRUE(MeetsBits(hasher.HashWithNonce(found), 12));
    for (std::uint64_t n = 0; n < found; ++n) {
        ASSERT_FALSE(MeetsBits(hasher.HashWithNonce(n), 12)) << n;
    }
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

TEST(MinerTest, ABudgetedMinerStillFindsHeadersAndStops) {
    // 16 bits takes ~65k hashes: several 20 ms slices at 10 %, so the miner rests between them.
    BlockHeader t = SampleHeader();
    t.bits = 16;
    std::atomic<bool> stop{false};
    MinerOptions mo;
    mo.duty_percent = 10;
    auto h = MineHeader(t, mo, stop);
    ASSERT_TRUE(h);
    EXPECT_TRUE(MeetsBits(h->Hash(), 16));

    // A resting miner sees the stop flag: the search ends (the test would hang otherwise).
    t.bits = 200;
    std::thread stopper([&] { stop = true; });
    EXPECT_FALSE(MineHeader(t, mo, stop));
    stopper.join();
}

}  // namespace
}  // namespace fwchain::ledger
