// Reads on the chain's reader connections while the writer connects blocks (ChainOptions::
// readers; docs/architecture.md "Readers never wait for the writer"). Run under ThreadSanitizer by
// scripts/tsan as well.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "fixture.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/primitives/merkle.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

constexpr int kBlocks = 30;
constexpr int kTxsPerBlock = 5;

class ReadersTest : public ::testing::TestWithParam<std::size_t> {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 1000);
        ChainOptions o;
        o.db_path = dir_ / "ledger.sqlite";
        o.genesis_hash = genesis_.Hash();
        o.genesis = genesis_;
        o.readers = GetParam();
        auto c = Chain::Open(o);
        ASSERT_TRUE(c) << c.error().ToString();
        chain_ = std::move(*c);
    }

    testing::Keys k_;
    test::TempDir dir_;
    Block genesis_;
    std::unique_ptr<Chain> chain_;
};

// Every block holds kTxsPerBlock release txs. Readers running beside the writer must only ever
// see whole blocks (a search counts a multiple of kTxsPerBlock), and a confirmed tx's Merkle proof
// must lead to the Merkle root of the header at its height.
TEST_P(ReadersTest, ReadsBesideTheWriterSeeWholeBlocksAndProofsThatVerify) {
    std::mutex ids_mu;
    std::vector<std::string> ids;
    std::atomic<bool> done{false};
    std::atomic<int> checked_proofs{0};
    std::atomic<int> searches{0};
    std::vector<std::string> failures;
    std::mutex failures_mu;
    auto fail = [&](const std::string& what) {
        std::lock_guard<std::mutex> lock(failures_mu);
        failures.push_back(what);
    };

    auto reader = [&](unsigned seed) {
        std::mt19937 rng(seed);
        // At least a few rounds even when the writer is quick.
        for (int round = 0; !done.load() || round < 20; ++round) {
            SearchQuery q;
            q.type = "release";
            q.limit = kMaxSearchLimit;
            auto page = chain_->Search(q);
            if (!page) return fail(page.error().ToString());
            if (page->results.size() % kTxsPerBlock != 0) {
                fail("a search saw part of a block: " + std::to_string(page->results.size()));
            }
            ++searches;
            std::string id;
            {
                std::lock_guard<std::mutex> lock(ids_mu);
                if (ids.empty()) continue;
                id = ids[rng() % ids.size()];
            }
            auto tx = chain_->GetTx(id);
            if (!tx || !*tx) return fail("tx " + id + " not found");
            if (!(*tx)->height) continue;  // still pending
            auto proof = MerkleProofFromJson((*tx)->proof);
            auto leaf = Hash256FromHex(id);
            auto headers = chain_->Headers(*(*tx)->height, 1);
            if (!proof || !leaf || !headers || headers->size() != 1) {
                return fail("tx " + id + ": proof or header unreadable");
            }
            const BlockHeader h = BlockHeader::Deserialize((*headers)[0].header.data());
            if (MerkleRootFromProof(*leaf, *proof) != h.merkle_root) {
                fail("tx " + id + ": proof does not lead to its block's Merkle root");
            }
            ++checked_proofs;
        }
    };
    std::thread r1(reader, 1u);
    std::thread r2(reader, 2u);

    std::uint64_t sequence = 0;
    for (int b = 0; b < kBlocks; ++b) {
        for (int i = 0; i < kTxsPerBlock; ++i) {
            ++sequence;
            auto id = chain_->SubmitTx(
                testing::ReleaseTx(k_.release, "cam", "1.0." + std::to_string(sequence), sequence));
            ASSERT_TRUE(id) << id.error().ToString();
            std::lock_guard<std::mutex> lock(ids_mu);
            ids.push_back(*id);
        }
        auto templ = chain_->BuildTemplate(k_.miner.Public(), NowSeconds());
        ASSERT_TRUE(templ) << templ.error().ToString();
        Block block = *templ;
        ASSERT_EQ(block.txs.size(), static_cast<std::size_t>(kTxsPerBlock));
        testing::SolveAndSign(block, k_.miner);
        auto connected = chain_->SubmitBlock(block, NowSeconds());
        ASSERT_TRUE(connected) << connected.error().ToString();
    }
    done = true;
    r1.join();
    r2.join();

    EXPECT_TRUE(failures.empty()) << failures.front();
    EXPECT_GT(searches.load(), 0);
    EXPECT_GT(checked_proofs.load(), 0);
    // After the writer: every tx is confirmed and found by a search.
    SearchQuery q;
    q.type = "release";
    q.limit = kMaxSearchLimit;
    auto page = chain_->Search(q);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->results.size(), static_cast<std::size_t>(kBlocks * kTxsPerBlock));
    auto tip = chain_->Tip();
    ASSERT_TRUE(tip);
    EXPECT_EQ(tip->height, static_cast<std::uint64_t>(kBlocks));
}

// With reader connections, and with none (every read under the chain lock).
INSTANTIATE_TEST_SUITE_P(Readers, ReadersTest, ::testing::Values(std::size_t{2}, std::size_t{0}),
                         [](const ::testing::TestParamInfo<std::size_t>& p) {
                             return p.param == 0 ? std::string("UnderTheLock")
                                                 : std::string("OnReaderConnections");
                         });

}  // namespace
}  // namespace fwchain::ledger
