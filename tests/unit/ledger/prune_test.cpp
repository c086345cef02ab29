// Pruned storage (docs/architecture.md "Pruned nodes"): what a pruned store keeps and drops, that
// the file shrinks under its budget, that rollout decisions stay those of an archival store, and
// that reorgs within finality and restarts still work on a pruned store.
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/chain/verify.hpp"
#include "ledger/primitives/merkle.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;

constexpr std::uint64_t kFinality = 4;

ChainParams PruneParams() {
    ChainParams p = testing::TestParams();
    p.finality_depth = kFinality;
    p.retarget_window = 1000;  // bits stay at 4: hand-made side blocks use the tip's bits
    return p;
}

// A block on `parent` with its bits, one second later.
Block ChildOf(const Keys& k, const BlockHeader& parent, std::vector<Tx> txs, std::uint64_t tag) {
    Block b;
    b.header.version = 1;
    b.header.bits = parent.bits;
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

Tx ReleaseWithRollout(const SigningKey& signer, std::uint64_t sequence) {
    Tx tx = testing::ReleaseTx(signer, "cam", "1." + std::to_string(sequence) + ".0", sequence);
    Rollout r;
    r.stages = {RolloutStage{100, 0}};
    r.max_failure_rate = 40;
    r.min_reports = 3;
    tx.body = ReleaseTxBody{sequence, Sha256Hex("manifest"), {"rev-b"}, r, 1}.ToJson();
    return testing::Signed(tx, signer);
}

Tx Report(const SigningKey& device, const std::string& id, std::uint64_t nonce,
          const std::string& state, std::uint64_t sequence) {
    Tx tx = testing::UpdateTx(device, id, nonce, state, "1." + std::to_string(sequence) + ".0");
    tx.body = UpdateTxBody{"cam", sequence, 0, "gw1", "", std::nullopt}.ToJson();
    return testing::Signed(tx, device);
}

class PruneTest : public ::testing::Test {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 1000, PruneParams());
        Open(0);
    }

    void Open(std::uint64_t budget) {
        chain_.reset();
        ChainOptions o;
        o.db_path = path_;
        o.genesis_hash = genesis_.Hash();
        o.genesis = genesis_;
        o.prune_budget = budget;
        auto c = Chain::Open(o);
        ASSERT_TRUE(c) << c.error().ToString();
        chain_ = std::move(*c);
    }

    BlockInfo Mine() {
        auto templ = chain_->BuildTemplate(k_.miner.Public(), NowSeconds());
        EXPECT_TRUE(templ);
        Block b = *templ;
        testing::SolveAndSign(b, k_.miner);
        auto connected = chain_->SubmitBlock(b, NowSeconds());
        EXPECT_TRUE(connected) << connected.error().ToString();
        return connected ? *connected : BlockInfo{};
    }

    std::string Submit(const Tx& tx) {
        auto id = chain_->SubmitTx(tx);
        EXPECT_TRUE(id) << id.error().ToString();
        return id ? *id : "";
    }

    // The proof GET /v1/tx gives leads to the Merkle root of the header at its height.
    void ExpectProvable(const std::string& id) {
        auto tx = chain_->GetTx(id);
        ASSERT_TRUE(tx) << tx.error().ToString();
        ASSERT_TRUE(*tx) << id;
        ASSERT_TRUE((*tx)->height);
        auto proof = MerkleProofFromJson((*tx)->proof);
        ASSERT_TRUE(proof);
        auto headers = chain_->Headers(*(*tx)->height, 1);
        ASSERT_TRUE(headers && headers->size() == 1);
        const BlockHeader h = BlockHeader::Deserialize((*headers)[0].header.data());
        EXPECT_EQ(MerkleRootFromProof(*Hash256FromHex(id), *proof), h.merkle_root) << id;
    }

    Keys k_;
    SigningKey own_ = SigningKey::Generate();
    SigningKey other_ = SigningKey::Generate();
    SigningKey third_ = SigningKey::Generate();
    test::TempDir dir_;
    std::string path_ = dir_ / "ledger.sqlite";
    Block genesis_;
    std::unique_ptr<Chain> chain_;
};

TEST_F(PruneTest, KeepsHeadersRegistryEvidenceOwnDevicesAndRecentBodiesOnly) {
    Submit(testing::AdmitTx(k_.admission, "own-1", own_, "device"));
    Submit(testing::AdmitTx(k_.admission, "other-1", other_, "device"));
    Submit(testing::AdmitTx(k_.admission, "other-2", third_, "device"));
    const std::string release = Submit(ReleaseWithRollout(k_.release, 1));
    Mine();
    const std::string approve = Submit(testing::ApproveTx(k_.approver, release));
    Mine();
    // Outcomes: other-1 fails, own-1 installs, other-2 rolls back: 2 of 3 bad, over 40 %, halted.
    const std::string own_update = Submit(Report(own_, "own-1", 1, "installed", 1));
    const std::string other_update = Submit(Report(other_, "other-1", 1, "failed", 1));
    Mine();
    const std::string third_update = Submit(Report(third_, "other-2", 1, "rolled-back", 1));
    const std::string pause = Submit(testing::RolloutTx(k_.release, release, "pause"));
    Mine();
    // Status reports, then empty blocks: everything above is below the finality window.
    Submit(Report(other_, "other-1", 2, "up-to-date", 1));
    Mine();
    for (int i = 0; i < 6; ++i) Mine();
    const std::string recent_other = Submit(Report(other_, "other-1", 3, "installed", 1));
    const BlockInfo tip = Mine();

    const std::int64_t now = NowSeconds();
    auto before = chain_->Rollouts("cam", now);
    ASSERT_TRUE(before) << before.error().ToString();
    ASSERT_EQ((*before)["releases"].size(), 1u);
    // The latest outcome per device counts; the halt came from the order they were reported in.
    const Json& devices = (*before)["releases"][0]["devices"];
    EXPECT_EQ(devices["installed"], 2);
    EXPECT_EQ(devices["rolled_back"], 1);
    EXPECT_EQ((*before)["releases"][0]["approvals"]["have"], 1);

    // The same file as a pruned node with a budget nothing fits in: prune all it may.
    Open(1);
    ASSERT_TRUE(chain_->KeepDevices({"own-1"}));
    auto st = chain_->PruneIfNeeded();
    ASSERT_TRUE(st) << st.error().ToString();
    EXPECT_TRUE(st->pruned);
    EXPECT_EQ(st->prune_height, tip.height - kFinality);
    EXPECT_TRUE(st->over_budget) << "1 byte cannot hold what must be kept";
    EXPECT_EQ(st->budget, 1u);

    // Every header; bodies only of the genesis and the last finality_depth blocks.
    auto headers = chain_->Headers(0, 1000);
    ASSERT_TRUE(headers);
    ASSERT_EQ(headers->size(), tip.height + 1);
    for (const BlockInfo& h : *headers) {
        auto body = chain_->BlockJson(ToHex(h.hash));
        if (h.height == 0 || h.height > st->prune_height) {
            ASSERT_TRUE(body && *body) << "height " << h.height;
        } else {
            ASSERT_FALSE(body) << "height " << h.height;
            EXPECT_EQ(body.error().reason, "pruned");
        }
    }
    // Release, approval, rollout control and the own device's report stay, with proofs.
    for (const auto& id : {release, approve, pause, own_update, recent_other}) ExpectProvable(id);
    // Other devices' txs of pruned blocks are gone.
    for (const auto& id : {other_update, third_update}) {
        auto tx = chain_->GetTx(id);
        ASSERT_TRUE(tx);
        EXPECT_FALSE(*tx) << id;
    }
    // The registry and the device counters stay: a replayed report is still refused.
    auto reg = chain_->Registry("device");
    ASSERT_TRUE(reg);
    EXPECT_EQ(reg->size(), 3u);
    auto replay = chain_->SubmitTx(Report(third_, "other-2", 1, "installed", 1));
    ASSERT_FALSE(replay);
    EXPECT_EQ(replay.error().reason, "replayed-nonce");
    // So does the release claim: the same release signed again is refused.
    auto again = chain_->SubmitTx(ReleaseWithRollout(k_.release, 1));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason, "duplicate-release");
    // Rollout decisions read the same evidence: the halt from pruned reports, approvals.
    auto after = chain_->Rollouts("cam", now);
    ASSERT_TRUE(after) << after.error().ToString();
    EXPECT_EQ(*after, *before);
    // Search finds the own device's history whole.
    SearchQuery q;
    q.device = "own-1";
    auto page = chain_->Search(q);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->results.size(), 1u);
    EXPECT_EQ(page->results[0].id, own_update);

    // A pruned store cannot be re-verified from genesis, and says so.
    auto verified = VerifyStoredChain(path_, genesis_.Hash(), nullptr);
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().reason, "pruned");
}

TEST_F(PruneTest, FileShrinksUnderTheBudgetAndAnArchivalStoreIsConverted) {
    // An archival store of many device reports (a 40-device fleet reporting every block).
    std::vector<SigningKey> devices;
    for (int i = 0; i < 40; ++i) devices.push_back(SigningKey::Generate());
    for (std::size_t i = 0; i < devices.size(); ++i) {
        Submit(testing::AdmitTx(k_.admission, "dev-" + std::to_string(i), devices[i], "device"));
    }
    Mine();
    for (std::uint64_t b = 1; b <= 40; ++b) {
        for (std::size_t i = 0; i < devices.size(); ++i) {
            Submit(Report(devices[i], "dev-" + std::to_string(i), b, "installed", 1));
        }
        Mine();
    }
    const BlockInfo tip = Mine();
    Open(0);  // a restart checkpoints the WAL into the file
    const std::uint64_t archival = chain_->Storage()->store_bytes;
    ASSERT_GT(archival, 0u);

    const std::uint64_t budget = archival / 3;
    Open(budget);
    auto st = chain_->PruneIfNeeded();
    ASSERT_TRUE(st) << st.error().ToString();
    EXPECT_TRUE(st->pruned);
    EXPECT_FALSE(st->over_budget);
    EXPECT_GT(st->prune_height, 0u);
    EXPECT_LE(st->prune_height, tip.height - kFinality);
    EXPECT_LE(st->store_bytes, budget) << "archival " << archival;
    // Under budget now: another pass changes nothing.
    auto again = chain_->PruneIfNeeded();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->prune_height, st->prune_height);
}

TEST_F(PruneTest, ReorgWithinFinalityAndRestartWorkOnAPrunedStore) {
    Submit(testing::AdmitTx(k_.admission, "own-1", own_, "device"));
    Mine();
    for (std::uint64_t n = 1; n <= 10; ++n) {
        Submit(Report(own_, "own-1", n, "installed", 1));
        Mine();
    }
    Open(1);
    auto st = chain_->PruneIfNeeded();
    ASSERT_TRUE(st);
    const BlockInfo tip = *chain_->Tip();
    ASSERT_EQ(st->prune_height, tip.height - kFinality);

    // A heavier branch forking finality_depth - 1 blocks below the tip.
    auto fork = chain_->Headers(tip.height - (kFinality - 1), 1);
    ASSERT_TRUE(fork && fork->size() == 1);
    BlockHeader parent = BlockHeader::Deserialize((*fork)[0].header.data());
    for (std::uint64_t i = 0; i < kFinality; ++i) {
        const Block b = ChildOf(k_, parent, {}, 100 + i);
        auto r = chain_->SubmitBlock(b, NowSeconds());
        ASSERT_TRUE(r) << r.error().ToString();
        parent = b.header;
    }
    const BlockInfo reorged = *chain_->Tip();
    EXPECT_EQ(reorged.hash, parent.Hash());
    EXPECT_EQ(reorged.height, tip.height + 1);
    // The abandoned reports are pending again.
    EXPECT_EQ(chain_->MempoolSize(), kFinality - 1);

    // A restart from the pruned store: it loads without the pruned bodies and keeps going.
    Open(1);
    EXPECT_EQ(chain_->Tip()->hash, reorged.hash);
    EXPECT_TRUE(chain_->Storage()->pruned);
    Submit(Report(own_, "own-1", 11, "installed", 1));
    const BlockInfo next = Mine();
    EXPECT_EQ(next.height, reorged.height + 1);
    st = chain_->PruneIfNeeded();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->prune_height, next.height - kFinality);

    // Deeper than the bodies it holds is deeper than finality: refused, not a store error.
    auto deep = chain_->Headers(st->prune_height - 1, 1);
    ASSERT_TRUE(deep && deep->size() == 1);
    parent = BlockHeader::Deserialize((*deep)[0].header.data());
    Expected<BlockInfo> last = Fail(Errc::kInternal, "unset", "");
    for (std::uint64_t i = 0; i < kFinality + 3 && (i == 0 || last); ++i) {
        const Block b = ChildOf(k_, parent, {}, 200 + i);
        last = chain_->SubmitBlock(b, NowSeconds());
        parent = b.header;
    }
    ASSERT_FALSE(last);
    EXPECT_EQ(last.error().reason, "reorg-too-deep");
}

}  // namespace
}  // namespace fwchain::ledger
