// How the gateway reads the headers its device proofs need (ReadProofHeaders): only the ranges
// asked for, deep ones kept from the previous read, and a reorg below the kept ones noticed.
#include <gtest/gtest.h>

#include <algorithm>

#include "gateway/sync/poller.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::gateway {
namespace {

// A ledger whose main chain is `chain` (linked headers, miner signature {height, fork}); it
// counts the headers it was asked for.
class FakeLedger : public ledger::LedgerClient {
  public:
    std::vector<ledger::BlockHeader> chain;
    std::vector<std::uint8_t> forks;  // per height, written into the signature
    std::size_t headers_read = 0;

    // The main chain becomes `n` headers: those below `fork_at` stay, the others are built
    // again as branch `fork` (a different header at each height when `fork` is new).
    void Grow(std::uint64_t n, std::uint8_t fork = 0, std::uint64_t fork_at = ~0ull) {
        if (fork_at < chain.size()) {
            chain.resize(fork_at);
            forks.resize(fork_at);
        }
        while (chain.size() < n) {
            ledger::BlockHeader h;
            h.height = chain.size();
            if (!chain.empty()) h.prev_hash = chain.back().Hash();
            h.nonce = fork;
            chain.push_back(h);
            forks.push_back(fork);
        }
    }

    std::string Where() const override { return "fake"; }
    Expected<ledger::TipView> Tip() override {
        return ledger::TipView{chain.size() - 1, ToHex(chain.back().Hash())};
    }
    Expected<std::optional<ledger::TxView>> GetTx(const std::string&) override {
        return std::optional<ledger::TxView>();
    }
    Expected<ledger::TxSearchPage> Search(const ledger::TxSearch&) override {
        return ledger::TxSearchPage{};
    }
    Expected<std::vector<ledger::HeaderView>> Headers(std::uint64_t from,
                                                      std::size_t count) override {
        std::vector<ledger::HeaderView> out;
        for (std::uint64_t h = from; h < chain.size() && out.size() < count; ++h) {
            Signature sig{static_cast<std::uint8_t>(h), forks[h]};
            out.push_back({h, ToHex(chain[h].Hash()), ToHex(chain[h].Serialize()), ToHex(sig)});
        }
        headers_read += out.size();
        return out;
    }
    Expected<std::vector<ledger::KeyView>> Registry(const std::string&) override {
        return std::vector<ledger::KeyView>{};
    }
    Expected<Json> Rollouts(const std::string&) override { return Json::object(); }
    Expected<ledger::SubmitResult> Submit(const Json&) override { return ledger::SubmitResult{}; }
    std::uint64_t WaitForTipChange(std::uint64_t seen, std::chrono::milliseconds) override {
        return seen;
    }
    void Interrupt() override {}
};

// Whether `held` holds exactly `heights`, each as `ledger`'s main chain has it.
void ExpectHolds(const ProofHeaders& held, const FakeLedger& ledger,
                 const std::vector<std::uint64_t>& heights) {
    ASSERT_EQ(held.by_height.size(), heights.size());
    for (auto h : heights) {
        const ChainHeader* c = held.Find(h);
        ASSERT_NE(c, nullptr) << h;
        EXPECT_EQ(c->header, ledger.chain[h].Serialize()) << h;
        EXPECT_EQ(c->miner_sig[1], ledger.forks[h]) << h;
    }
}

std::vector<std::uint64_t> Heights(std::uint64_t first, std::uint64_t last,
                                   std::vector<std::uint64_t> more = {}) {
    for (auto h = first; h <= last; ++h) more.push_back(h);
    std::sort(more.begin(), more.end());
    return more;
}

TEST(ProofHeaders, OnlyTheRangesAskedForAreReadAndDeepOnesAreKept) {
    FakeLedger ledger;
    ledger.Grow(3001);
    // A release's stretch (overlapping pieces) and an admission's block far below.
    const std::vector<HeightRange> ranges = {{2600, 2900}, {2900, 2950}, {7, 7}, {2951, 3000}};
    auto first = ReadProofHeaders(ledger, nullptr, 3000, ranges);
    ASSERT_TRUE(first) << first.error().ToString();
    EXPECT_EQ((*first)->tip, 3000u);
    ExpectHolds(**first, ledger, Heights(2600, 3000, {7}));
    EXPECT_EQ(ledger.headers_read, 402u);

    // The chain grows by 100: what lies kReuseDepth below the old tip is kept, the rest read.
    ledger.Grow(3101);
    ledger.headers_read = 0;
    auto second = ReadProofHeaders(ledger, first->get(), 3100, {{2600, 3064}, {7, 7}});
    ASSERT_TRUE(second) << second.error().ToString();
    ExpectHolds(**second, ledger, Heights(2600, 3064, {7}));
    // Kept: heights up to 3000 - kReuseDepth (and 7); read: the rest.
    EXPECT_EQ(ledger.headers_read, 3064 - (3000 - kReuseDepth));
}

TEST(ProofHeaders, AReorgBelowTheKeptHeadersMakesTheWholeRangeBeReadAgain) {
    FakeLedger ledger;
    ledger.Grow(3001);
    auto first = ReadProofHeaders(ledger, nullptr, 3000, {{2600, 3000}});
    ASSERT_TRUE(first) << first.error().ToString();
    // Another branch from height 2700, deeper than kReuseDepth below the old tip, with more
    // blocks: the kept headers at 2700..2872 are no longer the main chain's.
    ledger.Grow(3051, /*fork=*/1, /*fork_at=*/2700);
    auto second = ReadProofHeaders(ledger, first->get(), 3050, {{2600, 3050}});
    ASSERT_TRUE(second) << second.error().ToString();
    ExpectHolds(**second, ledger, Heights(2600, 3050));
    EXPECT_EQ(second->get()->Find(2750)->miner_sig[1], 1);
    // A branch within kReuseDepth of the old tip: the deep ones are kept, the rest read.
    ledger.Grow(3061, /*fork=*/2, /*fork_at=*/3000);
    ledger.headers_read = 0;
    auto third = ReadProofHeaders(ledger, second->get(), 3060, {{2600, 3060}});
    ASSERT_TRUE(third) << third.error().ToString();
    ExpectHolds(**third, ledger, Heights(2600, 3060));
    EXPECT_EQ(third->get()->Find(3001)->miner_sig[1], 2);
    EXPECT_EQ(ledger.headers_read, 3060 - (3050 - kReuseDepth));
}

TEST(ProofHeaders, AMalformedOrShortAnswerIsAnError) {
    FakeLedger ledger;
    ledger.Grow(100);
    // Asked beyond the ledger's tip (it shrank since its tip was read).
    EXPECT_FALSE(ReadProofHeaders(ledger, nullptr, 150, {{50, 150}}));
    // Nothing asked: nothing read, an empty set.
    auto none = ReadProofHeaders(ledger, nullptr, 99, {});
    ASSERT_TRUE(none);
    EXPECT_TRUE((*none)->by_height.empty());
    EXPECT_EQ(ledger.headers_read, 50u);
}

}  // namespace
}  // namespace fwchain::gateway
