#include "ledger/chain/chain.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "fixture.hpp"
#include "ledger/chain/prefetch.hpp"
#include "ledger/primitives/merkle.hpp"
#include "open_chain.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;

using testing::OpenChain;

class ChainTest : public ::testing::Test {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 1000);
        Open();
    }

    void Open() {
        chain_.reset();
        chain_ = OpenChain(dir_ / "ledger.sqlite", genesis_);
        ASSERT_TRUE(chain_);
    }

    // Mines the mempool into one block.
    BlockInfo Mine(const SigningKey* miner = nullptr) {
        const SigningKey& key = miner ? *miner : k_.miner;
        auto templ = chain_->BuildTemplate(key.Public(), NowSeconds());
        EXPECT_TRUE(templ);
        Block b = *templ;
        testing::SolveAndSign(b, key);
        auto connected = chain_->SubmitBlock(b, NowSeconds());
        EXPECT_TRUE(connected) << connected.error().ToString();
        return connected ? *connected : BlockInfo{};
    }

    std::string Submit(const Tx& tx) {
        auto id = chain_->SubmitTx(tx);
        EXPECT_TRUE(id) << id.error().ToString();
        return id ? *id : "";
    }

    Keys k_;
    test::TempDir dir_;
    Block genesis_;
    std::unique_ptr<Chain> chain_;
};

TEST_F(ChainTest, GenesisIsTipAndMinerRegistered) {
    auto tip = chain_->Tip();
    ASSERT_TRUE(tip);
    EXPECT_EQ(tip->height, 0u);
    EXPECT_EQ(tip->hash, genesis_.Hash());
    EXPECT_EQ(tip->work, BlockWork(4));
    auto miner = chain_->FindKey(k_.miner.PublicHex());
    ASSERT_TRUE(miner && *miner);
    EXPECT_TRUE((*miner)->CanMine());
    auto g = chain_->GetTx(genesis_.txs[0].Id());
    ASSERT_TRUE(g && *g);
    EXPECT_EQ((*g)->height, 0u);
}

TEST_F(ChainTest, RefusesADifferentGenesis) {
    chain_.reset();
    Keys other;
    const Block g2 = testing::MakeTestGenesis(other, NowSeconds());
    ChainOptions o;
    o.db_path = dir_ / "ledger.sqlite";
    o.genesis_hash = g2.Hash();
    o.genesis = g2;
    auto c = Chain::Open(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().reason, "genesis-mismatch");
    // A genesis that does not hash to the configured hash is refused before touching disk.
    o.genesis_hash = genesis_.Hash();
    auto c2 = Chain::Open(o);
    ASSERT_FALSE(c2);
    EXPECT_EQ(c2.error().reason, "bad-genesis");
}

TEST_F(ChainTest, StoreRoundTripSurvivesReopen) {
    const std::string admit = Submit(testing::AdmitTx(k_.admission, "dev-1", k_.device, "device"));
    const std::string release = Submit(testing::ReleaseTx(k_.release, "cam", "1.0.0", 1));
    EXPECT_EQ(chain_->MempoolSize(), 2u);
    const BlockInfo b1 = Mine();
    EXPECT_EQ(b1.height, 1u);
    EXPECT_EQ(b1.work, BlockWork(4) * 2);
    EXPECT_EQ(chain_->MempoolSize(), 0u);
    const std::string update = Submit(testing::UpdateTx(k_.device, "dev-1", 1));
    const BlockInfo b2 = Mine();

    Open();  // a fresh process on the same file
    auto tip = chain_->Tip();
    ASSERT_TRUE(tip);
    EXPECT_EQ(tip->hash, b2.hash);
    EXPECT_EQ(tip->height, 2u);

    auto tx = chain_->GetTx(release);
    ASSERT_TRUE(tx && *tx);
    EXPECT_EQ((*tx)->height, 1u);
    EXPECT_EQ((*tx)->confirmations, 2u);
    EXPECT_EQ(*(*tx)->block_hash, ToHex(b1.hash));
    // The proof leads from the tx id to the header's Merkle root.
    auto proof = MerkleProofFromJson((*tx)->proof);
    ASSERT_TRUE(proof);
    const BlockHeader h1 = BlockHeader::Deserialize(b1.header.data());
    EXPECT_EQ(MerkleRootFromProof(*Hash256FromHex(release), *proof), h1.merkle_root);

    SearchQuery q;
    q.device = "dev-1";
    auto page = chain_->Search(q);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->results.size(), 1u);
    EXPECT_EQ(page->results[0].id, update);
    q = SearchQuery{};
    q.product = "cam";
    page = chain_->Search(q);
    ASSERT_TRUE(page);
    // release (recipient cam), admit and update (body.product cam), newest first.
    ASSERT_EQ(page->results.size(), 3u);
    EXPECT_EQ(page->results[0].id, update);
    EXPECT_EQ(page->results[2].id, admit);

    // Registry and nonce state survive too: the replayed counter is still refused.
    auto replay = chain_->SubmitTx(testing::UpdateTx(k_.device, "dev-1", 1, "failed"));
    ASSERT_FALSE(replay);
    EXPECT_EQ(replay.error().reason, "replayed-nonce");
    auto reg = chain_->Registry("device");
    ASSERT_TRUE(reg);
    ASSERT_EQ(reg->size(), 1u);
    EXPECT_EQ((*reg)[0].subject, "dev-1");
}

TEST_F(ChainTest, SearchPaginatesNewestFirstWithoutGapsOrRepeats) {
    std::vector<SigningKey> devices;
    for (int block = 0; block < 3; ++block) {
        for (int i = 0; i < 9; ++i) {
            devices.push_back(SigningKey::Generate());
            Submit(testing::AdmitTx(k_.admission, "dev-" + std::to_string(devices.size()),
                                    devices.back(), "device"));
        }
        Mine();
    }
    Submit(testing::ReleaseTx(k_.release, "cam", "2.0.0", 2));
    Mine();

    SearchQuery q;
    q.type = "admit";
    q.limit = 10;
    std::vector<TxRecord> all;
    std::vector<std::size_t> sizes;
    for (int guard = 0; guard < 10; ++guard) {
        auto page = chain_->Search(q);
        ASSERT_TRUE(page) << page.error().ToString();
        sizes.push_back(page->results.size());
        all.insert(all.end(), page->results.begin(), page->results.end());
        if (!page->next_cursor) break;
        q.cursor = *page->next_cursor;
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 7}));
    std::set<std::string> ids;
    for (const auto& r : all) ids.insert(r.id);
    EXPECT_EQ(ids.size(), 27u);
    for (std::size_t i = 1; i < all.size(); ++i) {
        const bool newer_first =
            all[i - 1].height > all[i].height ||
            (all[i - 1].height == all[i].height && all[i - 1].index > all[i].index);
        EXPECT_TRUE(newer_first) << i;
    }
    // The newest admission is the last one submitted.
    EXPECT_EQ(all.front().tx["recipient"], "dev-27");

    SearchQuery bad;
    bad.cursor = "not-a-cursor";
    auto err = chain_->Search(bad);
    ASSERT_FALSE(err);
    EXPECT_EQ(err.error().reason, "bad-cursor");

    SearchQuery timed;
    timed.until = 0;
    auto none = chain_->Search(timed);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->results.empty());
}

TEST_F(ChainTest, MempoolRejectsDuplicatesReplaysAndUnauthorised) {
    Submit(testing::AdmitTx(k_.admission, "dev-1", k_.device, "device"));
    Mine();
    Tx u1 = testing::UpdateTx(k_.device, "dev-1", 1);
    Submit(u1);
    auto dup = chain_->SubmitTx(u1);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().reason, "duplicate-tx");
    EXPECT_EQ(dup.error().code, Errc::kConflict);
    // Counter 1 is pending: another report with counter 1 is a replay.
    auto replay = chain_->SubmitTx(testing::UpdateTx(k_.device, "dev-1", 1, "failed"));
    ASSERT_FALSE(replay);
    EXPECT_EQ(replay.error().reason, "replayed-nonce");
    Submit(testing::UpdateTx(k_.device, "dev-1", 2));
    auto bad = chain_->SubmitTx(testing::ReleaseTx(k_.outsider, "cam", "6.6.6", 6));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().reason, "unauthorized-tx");
    EXPECT_EQ(bad.error().code, Errc::kUnauthorized);
    Mine();
    // Once mined, the same tx is a duplicate of the chain.
    auto again = chain_->SubmitTx(u1);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason, "duplicate-tx");
}

TEST_F(ChainTest, OneReleasePerProductAndSequenceEvenWhenSignedAgain) {
    const Tx first = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    const std::string first_id = Submit(first);
    // Signed again (another nonce, so another id) while the first is pending.
    auto pending_again = chain_->SubmitTx(testing::ReleaseTx(k_.release, "cam", "1.0.0", 1));
    ASSERT_FALSE(pending_again);
    EXPECT_EQ(pending_again.error().reason, "duplicate-release");
    EXPECT_EQ(pending_again.error().code, Errc::kConflict);
    EXPECT_NE(pending_again.error().message.find(first_id), std::string::npos)
        << pending_again.error().message;
    // S + L of the same tx: refused as a bad signature, not as a new tx.
    auto malleated = chain_->SubmitTx(testing::MalleateS(first));
    ASSERT_FALSE(malleated);
    EXPECT_EQ(malleated.error().reason, "bad-tx");
    Mine();
    auto mined_again = chain_->SubmitTx(testing::ReleaseTx(k_.release, "cam", "1.0.1", 1));
    ASSERT_FALSE(mined_again);
    EXPECT_EQ(mined_again.error().reason, "duplicate-release");
    // Another sequence, or the same sequence of another product, is a new release.
    Submit(testing::ReleaseTx(k_.release, "cam", "1.0.1", 2));
    Submit(testing::ReleaseTx(k_.release, "doorbell", "1.0.0", 1));
    // One approval per (release, approver).
    Submit(testing::ApproveTx(k_.approver, first_id));
    auto approve_again = chain_->SubmitTx(testing::ApproveTx(k_.approver, first_id));
    ASSERT_FALSE(approve_again);
    EXPECT_EQ(approve_again.error().reason, "duplicate-approval");
    Mine();
    // The claims are stored: they hold after a restart.
    Open();
    auto after_reopen = chain_->SubmitTx(testing::ReleaseTx(k_.release, "cam", "1.0.9", 2));
    ASSERT_FALSE(after_reopen);
    EXPECT_EQ(after_reopen.error().reason, "duplicate-release");
    // A block that carries a second release of a recorded sequence is invalid.
    auto templ = chain_->BuildTemplate(k_.miner.Public(), NowSeconds());
    ASSERT_TRUE(templ);
    Block b = *templ;
    b.txs.push_back(testing::ReleaseTx(k_.release, "cam", "1.0.2", 1));
    b.header.merkle_root = MerkleRootOfTxs(b.txs);
    testing::SolveAndSign(b, k_.miner);
    auto connected = chain_->SubmitBlock(b, NowSeconds());
    ASSERT_FALSE(connected);
    EXPECT_EQ(connected.error().reason, "duplicate-release");
}

TEST_F(ChainTest, RevocationDropsPendingReportsOfThatDevice) {
    Submit(testing::AdmitTx(k_.admission, "dev-1", k_.device, "device"));
    Mine();
    Submit(testing::UpdateTx(k_.device, "dev-1", 1));
    // A peer's block revokes the device before our pending report is mined.
    auto templ = chain_->BuildTemplate(k_.miner.Public(), NowSeconds());
    ASSERT_TRUE(templ);
    Block b = *templ;
    b.txs = {testing::RevokeTx(k_.admission, "dev-1", k_.device, "device")};
    b.header.merkle_root = MerkleRootOfTxs(b.txs);
    testing::SolveAndSign(b, k_.miner);
    ASSERT_TRUE(chain_->SubmitBlock(b, NowSeconds()));
    EXPECT_EQ(chain_->MempoolSize(), 0u);
}

// A solved block on `parent` (any branch) with `txs`, one second after it.
Block Child(const Keys& k, const BlockHeader& parent, std::vector<Tx> txs, std::uint64_t tag = 0) {
    Block b;
    b.header.version = 1;
    b.header.bits = 4;
    b.header.height = parent.height + 1;
    b.header.timestamp = parent.timestamp + 1;
    b.header.prev_hash = parent.Hash();
    b.header.miner = k.miner.Public();
    b.header.extra_nonce = tag;
    b.txs = std::move(txs);
    b.header.merkle_root = MerkleRootOfTxs(b.txs);
    testing::SolveAndSign(b, k.miner);
    return b;
}

TEST_F(ChainTest, HeavierBranchReorgsAndAbandonedTxsReturnToTheMempool) {
    const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    const Block a1 = Child(k_, genesis_.header, {release}, 1);
    ASSERT_TRUE(chain_->SubmitBlock(a1, NowSeconds()));
    // A competing branch from genesis: first equal work (side), then heavier (reorg).
    const Tx admit = testing::AdmitTx(k_.admission, "dev-1", k_.device, "device");
    // Equal work goes to the lower hash: pick a b1 that loses the tie.
    Block b1 = Child(k_, genesis_.header, {admit}, 2);
    for (std::uint64_t tag = 3; b1.Hash() < a1.Hash(); ++tag) {
        b1 = Child(k_, genesis_.header, {admit}, tag);
    }
    auto s1 = chain_->SubmitBlock(b1, NowSeconds());
    ASSERT_TRUE(s1) << s1.error().ToString();
    EXPECT_FALSE(s1->main);
    EXPECT_EQ(chain_->Tip()->hash, a1.Hash());
    auto dev = chain_->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(dev);
    EXPECT_FALSE(*dev) << "a side block must not change the registry";

    const Block b2 = Child(k_, b1.header, {}, 1000);
    auto s2 = chain_->SubmitBlock(b2, NowSeconds());
    ASSERT_TRUE(s2) << s2.error().ToString();
    EXPECT_TRUE(s2->main);
    auto tip = chain_->Tip();
    EXPECT_EQ(tip->hash, b2.Hash());
    EXPECT_EQ(tip->work, BlockWork(4) * 3);
    dev = chain_->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(dev && *dev);
    // The release of the losing branch is pending again, not lost.
    auto r = chain_->GetTx(release.Id());
    ASSERT_TRUE(r && *r);
    EXPECT_FALSE((*r)->height.has_value());
    EXPECT_EQ(chain_->MempoolSize(), 1u);
    Mine();
    r = chain_->GetTx(release.Id());
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((*r)->height, std::optional<std::uint64_t>(3));
    auto a1_info = chain_->BlockInfoByHash(ToHex(a1.Hash()));
    ASSERT_TRUE(a1_info && *a1_info);
    EXPECT_FALSE((*a1_info)->main);
}

TEST_F(ChainTest, ReleaseClaimMovesWithItsBlockOnAReorg) {
    // Branch a releases cam/1; branch b, heavier, carries the same release signed again (another
    // id). After the reorg b's tx holds the claim and a's release does not return to the mempool.
    const Tx release_a = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    const Tx release_b = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    ASSERT_NE(release_a.Id(), release_b.Id());
    const Block a1 = Child(k_, genesis_.header, {release_a}, 1);
    ASSERT_TRUE(chain_->SubmitBlock(a1, NowSeconds()));
    Block b1 = Child(k_, genesis_.header, {release_b}, 2);
    for (std::uint64_t tag = 3; b1.Hash() < a1.Hash(); ++tag) {
        b1 = Child(k_, genesis_.header, {release_b}, tag);
    }
    ASSERT_TRUE(chain_->SubmitBlock(b1, NowSeconds()));
    const Block b2 = Child(k_, b1.header, {}, 1000);
    auto s2 = chain_->SubmitBlock(b2, NowSeconds());
    ASSERT_TRUE(s2) << s2.error().ToString();
    EXPECT_TRUE(s2->main);
    EXPECT_EQ(chain_->MempoolSize(), 0u) << "release_a duplicates the claim of release_b";
    auto again = chain_->SubmitTx(release_a);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason, "duplicate-release");
    EXPECT_NE(again.error().message.find(release_b.Id()), std::string::npos);
}

TEST_F(ChainTest, ReorgUndoesRegistryAndDeviceCountersAndSurvivesReopen) {
    const Tx admit = testing::AdmitTx(k_.admission, "dev-1", k_.device, "device");
    const Tx report = testing::UpdateTx(k_.device, "dev-1", 5);
    const Block a1 = Child(k_, genesis_.header, {admit}, 1);
    const Block a2 = Child(k_, a1.header, {report}, 1);
    ASSERT_TRUE(chain_->SubmitBlock(a1, NowSeconds()));
    ASSERT_TRUE(chain_->SubmitBlock(a2, NowSeconds()));
    EXPECT_EQ((*chain_->FindKey(k_.device.PublicHex()))->last_nonce,
              std::optional<std::uint64_t>(5));
    // Three empty blocks from genesis outweigh two.
    Block prev = genesis_;
    for (std::uint64_t i = 0; i < 3; ++i) {
        prev = Child(k_, prev.header, {}, 10 + i);
        ASSERT_TRUE(chain_->SubmitBlock(prev, NowSeconds()));
    }
    EXPECT_EQ(chain_->Tip()->hash, prev.Hash());
    auto dev = chain_->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(dev);
    EXPECT_FALSE(*dev) << "the admission was undone";
    EXPECT_FALSE(*chain_->GetTx(report.Id()) && (*chain_->GetTx(report.Id()))->height);
    EXPECT_EQ(chain_->MempoolSize(), 2u) << "admit and report both pending again, in order";

    Open();  // what a restart sees
    EXPECT_EQ(chain_->Tip()->hash, prev.Hash());
    dev = chain_->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(dev);
    EXPECT_FALSE(*dev);
    // Back on the original branch: a1, a2 plus two more make it the heaviest again.
    const Block a3 = Child(k_, a2.header, {}, 1);
    const Block a4 = Child(k_, a3.header, {}, 1);
    ASSERT_TRUE(chain_->SubmitBlock(a3, NowSeconds()));
    ASSERT_TRUE(chain_->SubmitBlock(a4, NowSeconds()));
    EXPECT_EQ(chain_->Tip()->hash, a4.Hash());
    dev = chain_->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(dev && *dev);
    EXPECT_EQ((*dev)->last_nonce, std::optional<std::uint64_t>(5));
    // A replay of the report is refused again on the restored branch.
    auto replay = chain_->SubmitTx(report);
    ASSERT_FALSE(replay);
    EXPECT_EQ(replay.error().reason, "duplicate-tx");
}

TEST_F(ChainTest, InvalidHeavierBranchIsRefusedAndTheOldChainKept) {
    const Block a1 = Child(k_, genesis_.header, {}, 1);
    ASSERT_TRUE(chain_->SubmitBlock(a1, NowSeconds()));
    Block b1 = Child(k_, genesis_.header, {}, 2);
    for (std::uint64_t tag = 3; b1.Hash() < a1.Hash(); ++tag) {
        b1 = Child(k_, genesis_.header, {}, tag);
    }
    ASSERT_TRUE(chain_->SubmitBlock(b1, NowSeconds()));
    // b2 carries a report by a device that was never admitted: well-formed, unauthorised.
    const Block b2 = Child(k_, b1.header, {testing::UpdateTx(k_.device, "dev-1", 1)}, 2);
    auto r = chain_->SubmitBlock(b2, NowSeconds());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "unauthorized-tx");
    EXPECT_EQ(chain_->Tip()->hash, a1.Hash());
    auto again = chain_->SubmitBlock(b2, NowSeconds());
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason, "known-invalid");
    // Nothing can be built on it either.
    auto b3 = chain_->SubmitBlock(Child(k_, b2.header, {}, 2), NowSeconds());
    ASSERT_FALSE(b3);
    EXPECT_EQ(b3.error().reason, "bad-prevblk");
}

TEST(ChainFinalityTest, ReorgDeeperThanFinalityIsRefused) {
    Keys k;
    ChainParams p = testing::TestParams();
    p.finality_depth = 2;
    const Block genesis = testing::MakeTestGenesis(k, NowSeconds() - 1000, p);
    test::TempDir dir;
    auto chain = OpenChain(dir / "ledger.sqlite", genesis);
    ASSERT_TRUE(chain);
    Block prev = genesis;
    for (std::uint64_t i = 0; i < 3; ++i) {
        prev = Child(k, prev.header, {}, 1);
        ASSERT_TRUE(chain->SubmitBlock(prev, NowSeconds()));
    }
    const Hash256 main_tip = prev.Hash();
    Block side = genesis;
    Expected<BlockInfo> last = Fail(Errc::kInternal, "unset", "");
    for (std::uint64_t i = 0; i < 4; ++i) {
        side = Child(k, side.header, {}, 2);
        last = chain->SubmitBlock(side, NowSeconds());
    }
    ASSERT_FALSE(last);
    EXPECT_EQ(last.error().reason, "reorg-too-deep");
    EXPECT_EQ(chain->Tip()->hash, main_tip);
}

TEST_F(ChainTest, RootRotationChangesWhoMayRelease) {
    const SigningKey new_root = SigningKey::Generate();
    const SigningKey new_release = SigningKey::Generate();
    auto make_root = [&](std::uint64_t version, std::vector<const SigningKey*> signers) {
        const Root r = testing::MakeRoot(k_, version, new_root, new_release, NowSeconds(),
                                         NowSeconds() + 86400);
        return SignDocument(MakeRootSigned(r), signers);
    };
    auto root_tx = [&](const Envelope& env, const std::string& ver, const SigningKey& signer) {
        Tx tx;
        tx.type = kRootTxType;
        tx.recipient = "acme";
        tx.ver = ver;
        tx.verifier = env.SignedHash();
        tx.time = NowSeconds();
        tx.nonce = testing::RandomNonce();
        tx.body = RootTxBody{env}.ToJson();
        return testing::Signed(tx, signer);
    };
    // Signed by the new root key only: the old root did not authorise it.
    auto only_new = chain_->SubmitTx(root_tx(make_root(2, {&new_root}), "2", k_.root));
    ASSERT_FALSE(only_new);
    EXPECT_EQ(only_new.error().reason, "unauthorized-tx");
    // Skipping a version, or sent by a non-root key.
    const Envelope v2 = make_root(2, {&k_.root, &new_root});
    EXPECT_FALSE(chain_->SubmitTx(root_tx(make_root(3, {&k_.root, &new_root}), "3", k_.root)));
    EXPECT_FALSE(chain_->SubmitTx(root_tx(v2, "2", k_.release)));
    EXPECT_FALSE(chain_->SubmitTx(root_tx(v2, "3", k_.root)));
    // The rotation, then a release by the new key in the same block.
    Submit(root_tx(v2, "2", k_.root));
    Submit(testing::ReleaseTx(new_release, "cam", "2.0.0", 2));
    auto old_key = chain_->SubmitTx(testing::ReleaseTx(k_.release, "cam", "2.0.1", 3));
    ASSERT_FALSE(old_key);
    EXPECT_EQ(old_key.error().reason, "unauthorized-tx");
    Mine();
    EXPECT_EQ(chain_->CurrentRoot().version, 2u);
    Open();
    EXPECT_EQ(chain_->CurrentRoot().version, 2u) << "the root survives a restart";
    EXPECT_FALSE(chain_->SubmitTx(testing::ReleaseTx(k_.release, "cam", "2.0.2", 4)));
    EXPECT_TRUE(chain_->SubmitTx(testing::ReleaseTx(new_release, "cam", "2.0.3", 5)));
}

TEST_F(ChainTest, RejectsBlocksThatDoNotExtendTheTipOrRepeat) {
    auto templ = chain_->BuildTemplate(k_.miner.Public(), NowSeconds());
    ASSERT_TRUE(templ);
    Block b = *templ;
    testing::SolveAndSign(b, k_.miner);
    ASSERT_TRUE(chain_->SubmitBlock(b, NowSeconds()));
    auto again = chain_->SubmitBlock(b, NowSeconds());
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason, "duplicate-block");
    // A sibling of b (same parent) no longer extends the tip.
    Block sibling = *templ;
    sibling.header.extra_nonce = 99;
    testing::SolveAndSign(sibling, k_.miner);
    // A sibling of b (same parent, same work) is stored; the lower hash becomes the tip, so
    // nodes that saw both in different orders agree.
    auto fork = chain_->SubmitBlock(sibling, NowSeconds());
    ASSERT_TRUE(fork) << fork.error().ToString();
    EXPECT_EQ(fork->main, sibling.Hash() < b.Hash());
    EXPECT_EQ(chain_->Tip()->hash, std::min(sibling.Hash(), b.Hash()));
    // A block whose parent is unknown is an orphan (the sender should be synced from).
    Block orphan = *templ;
    orphan.header.prev_hash = testing::Leaf(7);
    orphan.header.height = 5;
    testing::SolveAndSign(orphan, k_.miner);
    auto o = chain_->SubmitBlock(orphan, NowSeconds());
    ASSERT_FALSE(o);
    EXPECT_EQ(o.error().reason, "orphan");
    // An unadmitted miner is refused even on the tip.
    auto t2 = chain_->BuildTemplate(k_.outsider.Public(), NowSeconds());
    ASSERT_TRUE(t2);
    Block rogue = *t2;
    testing::SolveAndSign(rogue, k_.outsider);
    auto r = chain_->SubmitBlock(rogue, NowSeconds());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "bad-miner");
}

// A sync stream: a run of blocks connected in one transaction, a duplicate skipped, and an
// invalid block ending the run with the blocks before it kept, as SubmitBlock one by one would.
TEST_F(ChainTest, SubmitBlocksConnectsARunAndStopsAtTheFirstInvalidBlock) {
    SigningKey dev = SigningKey::Generate();
    // Blocks mined on a second chain, replayed into this one as they would arrive from a peer.
    test::TempDir other_dir;
    auto other = OpenChain(other_dir / "other.sqlite", genesis_);
    ASSERT_TRUE(other);
    std::vector<Block> raw;
    for (std::uint64_t n = 0; n < 6; ++n) {
        const Tx tx = n == 0 ? testing::AdmitTx(k_.admission, "dev-1", dev, "device")
                             : testing::UpdateTx(dev, "dev-1", n);
        ASSERT_TRUE(other->SubmitTx(tx));
        auto t = other->BuildTemplate(k_.miner.Public(), NowSeconds());
        ASSERT_TRUE(t);
        Block b = *t;
        testing::SolveAndSign(b, k_.miner);
        ASSERT_TRUE(other->SubmitBlock(b, NowSeconds()));
        raw.push_back(b);
    }
    std::vector<EncodedBlock> blocks;
    for (const Block& b : raw) {
        blocks.push_back(EncodedBlock::Parse(ParseJson(Canonical(b.ToJson())).value()).value());
    }
    Chain* c = chain_.get();
    // Block 3 again after block 3 (a duplicate), then a tampered block 5 (bad miner signature).
    std::vector<EncodedBlock> stream(blocks.begin(), blocks.begin() + 4);
    stream.push_back(blocks[3]);
    stream.push_back(blocks[4]);
    Block forged = raw[5];
    forged.miner_sig[0] ^= 1;
    stream.push_back(EncodedBlock::Encode(forged));
    stream.push_back(blocks[5]);
    auto results = c->SubmitBlocks(stream, NowSeconds());
    ASSERT_EQ(results.size(), 7u);  // nothing after the invalid block
    for (std::size_t i = 0; i < 6; ++i) {
        if (i == 4) {
            ASSERT_FALSE(results[i]);
            EXPECT_EQ(results[i].error().reason, "duplicate-block");
            continue;
        }
        ASSERT_TRUE(results[i]) << i << ": " << results[i].error().ToString();
        EXPECT_TRUE(results[i]->main);
    }
    ASSERT_FALSE(results[6]);
    EXPECT_EQ(results[6].error().reason, reject::kBadSig);
    auto tip = c->Tip();
    ASSERT_TRUE(tip);
    EXPECT_EQ(tip->hash, raw[4].Hash());
    // The rest of the stream then connects; the registry saw every report.
    auto rest = c->SubmitBlocks({blocks[5]}, NowSeconds());
    ASSERT_EQ(rest.size(), 1u);
    ASSERT_TRUE(rest[0]) << rest[0].error().ToString();
    auto key = c->FindKey(dev.PublicHex());
    ASSERT_TRUE(key && *key && (*key)->last_nonce);
    EXPECT_EQ(*(*key)->last_nonce, 5u);
}

TEST(BlockPrefetcherTest, KeepsOrderBatchesAndStopsAtTheFirstError) {
    Keys k;
    std::vector<Json> blocks;
    for (int i = 0; i < 5; ++i) {
        blocks.push_back(testing::MakeTestGenesis(k, 1700000000 + i).ToJson());
    }
    {
        BlockPrefetcher p(
            [&](std::size_t i) -> Expected<std::optional<Json>> {
                if (i >= blocks.size()) return std::optional<Json>();
                return std::optional<Json>(blocks[i]);
            },
            3);
        std::vector<Hash256> seen;
        std::size_t batches = 0;
        while (true) {
            auto batch = p.NextBatch(2);
            if (batch.empty()) break;
            ++batches;
            EXPECT_LE(batch.blocks.size(), 2u);
            ASSERT_FALSE(batch.error) << batch.error->ToString();
            for (const auto& b : batch.blocks) seen.push_back(b.Hash());
        }
        ASSERT_EQ(seen.size(), 5u);
        EXPECT_EQ(batches, 3u);  // 2 + 2 + 1
        for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(ToHex(seen[i]), blocks[i]["hash"]);
        EXPECT_TRUE(p.NextBatch(2).empty());
    }
    // A block that does not parse, then a fetch that fails: each ends the stream.
    Json bad = blocks[1];
    bad["txs"][0]["nonce"] = 1;
    for (bool fetch_fails : {false, true}) {
        std::atomic<std::size_t> calls{0};
        {
            BlockPrefetcher p([&](std::size_t i) -> Expected<std::optional<Json>> {
                ++calls;
                if (i == 1) {
                    if (fetch_fails) return Fail(Errc::kNetwork, "down", "peer went away");
                    return std::optional<Json>(bad);
                }
                return std::optional<Json>(blocks[i % blocks.size()]);
            });
            auto first = p.NextBatch(1);
            ASSERT_EQ(first.blocks.size(), 1u);
            ASSERT_FALSE(first.error);
            auto second = p.NextBatch(1);
            EXPECT_TRUE(second.blocks.empty());
            ASSERT_TRUE(second.error);
            EXPECT_EQ(second.fetch_failed, fetch_fails);
            EXPECT_TRUE(p.NextBatch(1).empty());
        }
        // A failed fetch stops the fetcher at once; a bad block stops it within the look-ahead.
        if (fetch_fails) {
            EXPECT_EQ(calls.load(), 2u);
        } else {
            EXPECT_LE(calls.load(), kSyncPrefetchDepth + 2);
        }
    }
}

TEST_F(ChainTest, NeedsMiningUntilTheReleaseIsConfirmed) {
    auto n = chain_->NeedsMining();
    ASSERT_TRUE(n);
    EXPECT_FALSE(*n);
    Submit(testing::ReleaseTx(k_.release, "cam", "1.0.0", 1));
    EXPECT_TRUE(*chain_->NeedsMining());
    Mine();  // release at height 1: 1 confirmation, params want 2
    EXPECT_TRUE(*chain_->NeedsMining());
    Mine();
    EXPECT_FALSE(*chain_->NeedsMining());
}

TEST_F(ChainTest, TemplateTimestampAboveMedianTimePastAndBitsFollowRetarget) {
    // Blocks far in the past relative to the window: the chain stays at initial bits, and the
    // template time never goes backwards past the median.
    for (int i = 0; i < 9; ++i) Mine();
    auto tip = chain_->Tip();
    ASSERT_TRUE(tip);
    EXPECT_EQ(tip->height, 9u);
    auto templ = chain_->BuildTemplate(k_.miner.Public(), 0);  // a clock stuck at 1970
    ASSERT_TRUE(templ);
    EXPECT_GT(templ->header.timestamp, 0);
    EXPECT_GE(templ->header.timestamp, genesis_.header.timestamp);
    EXPECT_GE(templ->header.bits, 4u);
}

}  // namespace
}  // namespace fwchain::ledger
