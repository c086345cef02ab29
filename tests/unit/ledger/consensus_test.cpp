#include <gtest/gtest.h>

#include <functional>

#include "fixture.hpp"
#include "ledger/consensus/pow.hpp"
#include "ledger/consensus/validation.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;
using testing::MapView;

TEST(PowTest, CheckProofOfWorkRespectsRange) {
    ChainParams p = testing::TestParams();  // initial_bits 4
    Hash256 h{};
    h[0] = 0x0f;
    EXPECT_TRUE(CheckProofOfWork(h, 4, p));
    EXPECT_FALSE(CheckProofOfWork(h, 5, p));
    // Below the easiest difficulty even a perfect hash is refused.
    EXPECT_FALSE(CheckProofOfWork(Hash256{}, 3, p));
    EXPECT_FALSE(CheckProofOfWork(Hash256{}, kMaxBits + 1, p));
}

TEST(PowTest, WorkHexIsFixedWidthAndRoundTrips) {
    EXPECT_EQ(WorkToHex(BlockWork(0)), "00000000000000000000000000000001");
    EXPECT_EQ(WorkToHex(BlockWork(4) + BlockWork(4)), "00000000000000000000000000000020");
    const Work big = BlockWork(120) * 3;
    EXPECT_EQ(WorkFromHex(WorkToHex(big)).value(), big);
    EXPECT_FALSE(WorkFromHex("12"));
    EXPECT_FALSE(WorkFromHex(std::string(32, 'g')));
    // Fixed width: string order is numeric order.
    EXPECT_LT(WorkToHex(BlockWork(9)), WorkToHex(BlockWork(10)));
}

TEST(RetargetTest, Table) {
    ChainParams p = testing::TestParams();  // window 8, interval 10 => expected span 70 s
    p.initial_bits = 4;
    struct Case {
        const char* name;
        std::uint64_t height;
        std::uint32_t prev_bits;
        std::int64_t span;
        std::uint32_t want;
    };
    const Case cases[] = {
        {"not a retarget height", 9, 10, 1, 10},
        {"on target", 8, 10, 70, 10},
        {"2x fast: +1", 16, 10, 35, 11},
        {"slightly fast: no change", 16, 10, 60, 10},
        {"4x fast: +2", 16, 10, 17, 12},
        {"100x fast clamps to +2", 16, 10, 1, 12},
        {"negative span clamps to +2", 16, 10, -500, 12},
        {"2x slow: -1", 16, 10, 140, 9},
        {"4x slow: -2", 16, 10, 280, 8},
        {"100x slow clamps to -2", 16, 10, 7000, 8},
        {"never below initial_bits", 16, 5, 7000, 4},
        {"never above kMaxBits", 16, kMaxBits, 1, kMaxBits},
        {"genesis uses initial bits", 0, 30, 1, 4},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(NextBits(p, c.height, c.prev_bits, 1000, 1000 + c.span), c.want) << c.name;
    }
}

TEST(MedianTimePastTest, Table) {
    EXPECT_EQ(MedianTimePast({}), 0);
    EXPECT_EQ(MedianTimePast({5}), 5);
    EXPECT_EQ(MedianTimePast({1, 9, 5}), 5);
    // Only the last 11 count: the huge first value is outside the window.
    std::vector<std::int64_t> t = {1000000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    EXPECT_EQ(MedianTimePast(t), 6);
}

// A valid block 1 on a fake parent, and variants breaking one rule each.
class BlockValidationTest : public ::testing::Test {
  protected:
    void SetUp() override {
        now_ = 1700000000;
        env_ = testing::MakeRootEnvelope(k_, now_);
        root_ = ParseRoot(env_).value();
        view_ = std::make_unique<MapView>(root_);
        view_->AddKey(k_.miner, role::kMiner, "acme");
        view_->AddKey(k_.device, role::kDevice, "dev-1");
        ctx_.prev_hash = testing::Leaf(0x42);
        ctx_.prev_height = 0;
        ctx_.required_bits = params_.initial_bits;
        ctx_.median_time_past = now_ - 100;
        ctx_.now = now_;
    }

    Block Template(std::vector<Tx> txs) {
        Block b;
        b.txs = std::move(txs);
        b.header.bits = ctx_.required_bits;
        b.header.height = 1;
        b.header.timestamp = now_;
        b.header.prev_hash = ctx_.prev_hash;
        b.header.merkle_root = MerkleRootOfTxs(b.txs);
        b.header.miner = k_.miner.Public();
        return b;
    }

    Block Good() {
        Block b = Template({testing::ReleaseTx(k_.release, "cam", "1.0.0", 1)});
        testing::SolveAndSign(b, k_.miner);
        return b;
    }

    std::string Reject(const Block& b) {
        StateOverlay overlay(*view_);
        ValidationState state;
        if (ValidateBlock(EncodedBlock::Encode(b), ctx_, params_, overlay, state)) return "";
        return state.RejectReason();
    }

    Keys k_;
    std::int64_t now_ = 0;
    Envelope env_;
    Root root_;
    std::unique_ptr<MapView> view_;
    ChainParams params_ = testing::TestParams();
    BlockContext ctx_;
};

TEST_F(BlockValidationTest, GoodBlockIsValidAndOverlayHoldsItsTxs) {
    Block b = Good();
    StateOverlay overlay(*view_);
    ValidationState state;
    ASSERT_TRUE(ValidateBlock(EncodedBlock::Encode(b), ctx_, params_, overlay, state))
        << state.ToString();
    EXPECT_EQ(overlay.AddedTxs().count(b.txs[0].Id()), 1u);
}

TEST_F(BlockValidationTest, EachBrokenRuleHasItsReason) {
    struct Case {
        const char* want;
        std::function<Block()> make;
    };
    const Case cases[] = {
        {"high-hash",
         [&] {
             Block b = Good();
             // Walk to a nonce whose hash misses the target, then sign that header.
             do {
                 ++b.header.nonce;
             } while (MeetsBits(b.Hash(), b.header.bits));
             const Hash256 h = b.Hash();
             b.miner_sig = k_.miner.Sign(h.data(), h.size());
             return b;
         }},
        {"bad-merkle",
         [&] {
             Block b = Template({testing::ReleaseTx(k_.release, "cam", "1.0.0", 1)});
             b.txs.push_back(testing::ReleaseTx(k_.release, "cam", "1.0.1", 2));
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"bad-sig",
         [&] {
             Block b = Good();
             b.miner_sig[0] ^= 1;
             return b;
         }},
        {"bad-sig",
         [&] {
             Block b = Template({});
             testing::SolveAndSign(b, k_.outsider);  // signed by someone else
             return b;
         }},
        {"bad-miner",
         [&] {
             Block b = Template({});
             b.header.miner = k_.outsider.Public();
             testing::SolveAndSign(b, k_.outsider);
             return b;
         }},
        {"bad-prevblk",
         [&] {
             Block b = Template({});
             b.header.prev_hash = testing::Leaf(0x43);
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"bad-height",
         [&] {
             Block b = Template({});
             b.header.height = 2;
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"bad-bits",
         [&] {
             Block b = Template({});
             b.header.bits = ctx_.required_bits + 1;
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"time-too-old",
         [&] {
             Block b = Template({});
             b.header.timestamp = ctx_.median_time_past;
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"time-too-new",
         [&] {
             Block b = Template({});
             b.header.timestamp = now_ + kMaxFutureBlockTime + 1;
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"duplicate-tx",
         [&] {
             Tx tx = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
             Block b = Template({tx, tx});
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"unauthorized-tx",
         [&] {
             Block b = Template({testing::ReleaseTx(k_.outsider, "cam", "6.6.6", 9)});
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"bad-tx",
         [&] {
             Block b = Template({testing::UpdateTx(k_.device, "dev-1", 1, "exploded")});
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
        {"bad-tx",
         [&] {
             Tx tx = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
             tx.ver = "1.0.1";  // changed after signing
             Block b = Template({tx});
             testing::SolveAndSign(b, k_.miner);
             return b;
         }},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(Reject(c.make()), c.want);
    }
    EXPECT_EQ(Reject(Good()), "");
}

TEST_F(BlockValidationTest, TxAlreadyInChainIsDuplicate) {
    Block b = Good();
    view_->txs.insert(b.txs[0].Id());
    EXPECT_EQ(Reject(b), "duplicate-tx");
}

TEST_F(BlockValidationTest, RevokedMinerIsRejected) {
    view_->keys[k_.miner.PublicHex()].revoked = true;
    EXPECT_EQ(Reject(Good()), "bad-miner");
}

TEST_F(BlockValidationTest, AdmittedGatewayMayMine) {
    view_->AddKey(k_.gateway, role::kGateway, "gw1");
    Block b = Template({});
    b.header.miner = k_.gateway.Public();
    testing::SolveAndSign(b, k_.gateway);
    EXPECT_EQ(Reject(b), "");
}

TEST_F(BlockValidationTest, DeviceAdmittedAndReportingInOneBlock) {
    Block b = Template({testing::AdmitTx(k_.admission, "dev-2", k_.device2, role::kDevice),
                        testing::UpdateTx(k_.device2, "dev-2", 1)});
    testing::SolveAndSign(b, k_.miner);
    EXPECT_EQ(Reject(b), "");
    // Order matters: the report before the admission is not authorised.
    Block c = Template({testing::UpdateTx(k_.device2, "dev-2", 1),
                        testing::AdmitTx(k_.admission, "dev-2", k_.device2, role::kDevice)});
    testing::SolveAndSign(c, k_.miner);
    EXPECT_EQ(Reject(c), "unauthorized-tx");
}

TEST_F(BlockValidationTest, GenesisTxOutsideBlockZeroIsUnauthorized) {
    const Block g = testing::MakeTestGenesis(k_, now_);
    Block b = Template({g.txs[0]});
    testing::SolveAndSign(b, k_.miner);
    EXPECT_EQ(Reject(b), "unauthorized-tx");
}

TEST(GenesisValidationTest, AcceptsGoodRejectsOthers) {
    Keys k;
    const Block g = testing::MakeTestGenesis(k, 1700000000);
    ValidationState ok;
    GenesisInfo info;
    EXPECT_TRUE(ValidateGenesisBlock(g, g.Hash(), ok, &info)) << ok.ToString();
    EXPECT_EQ(info.root.vendor, "acme");

    ValidationState wrong_hash;
    EXPECT_FALSE(ValidateGenesisBlock(g, testing::Leaf(1), wrong_hash, nullptr));
    EXPECT_EQ(wrong_hash.RejectReason(), "bad-genesis");

    Block bad_sig = g;
    bad_sig.miner_sig[5] ^= 0x10;
    ValidationState sig_state;
    EXPECT_FALSE(ValidateGenesisBlock(bad_sig, bad_sig.Hash(), sig_state, nullptr));
    EXPECT_EQ(sig_state.RejectReason(), "bad-sig");
}

// Tx authorisation per type, against a view with one admitted device (dev-1, last nonce 5),
// one revoked device and the test root.
TEST(TxAuthorisationTest, Table) {
    Keys k;
    const Root root = ParseRoot(testing::MakeRootEnvelope(k, 1700000000)).value();
    MapView view(root);
    view.AddKey(k.miner, role::kMiner, "acme");
    view.AddKey(k.device, role::kDevice, "dev-1");
    view.keys[k.device.PublicHex()].last_nonce = 5;
    view.AddKey(k.device2, role::kDevice, "dev-2");
    view.keys[k.device2.PublicHex()].revoked = true;
    const SigningKey fresh = SigningKey::Generate();
    view.claims["release/cam/3"] = "tx-of-cam-3";
    view.claims["approve/rel-1/" + k.approver.PublicHex()] = "tx-approving-rel-1";

    struct Case {
        const char* name;
        Tx tx;
        const char* want;  // "" = authorised
    };
    const Case cases[] = {
        {"release by release key", testing::ReleaseTx(k.release, "cam", "1.0.0", 1), ""},
        {"release by admission key", testing::ReleaseTx(k.admission, "cam", "1.0.0", 1),
         "unauthorized-tx"},
        {"release by root key", testing::ReleaseTx(k.root, "cam", "1.0.0", 1), "unauthorized-tx"},
        {"admit by admission key", testing::AdmitTx(k.admission, "dev-3", fresh, "device"), ""},
        {"admit gateway", testing::AdmitTx(k.admission, "gw1", fresh, "gateway"), ""},
        {"admit by release key", testing::AdmitTx(k.release, "dev-3", fresh, "device"),
         "unauthorized-tx"},
        {"admit an existing key", testing::AdmitTx(k.admission, "dev-1", k.device, "device"),
         "bad-tx"},
        {"admit with bad role", testing::AdmitTx(k.admission, "x", fresh, "king"), "bad-tx"},
        {"revoke admitted device", testing::RevokeTx(k.admission, "dev-1", k.device, "device"), ""},
        {"revoke by device", testing::RevokeTx(k.device, "dev-1", k.device, "device"),
         "unauthorized-tx"},
        {"revoke unknown key", testing::RevokeTx(k.admission, "x", fresh, "device"), "bad-tx"},
        {"revoke twice", testing::RevokeTx(k.admission, "dev-2", k.device2, "device"), "bad-tx"},
        {"revoke genesis miner as gateway",
         testing::RevokeTx(k.admission, "acme", k.miner, "gateway"), ""},
        {"update by device, next nonce", testing::UpdateTx(k.device, "dev-1", 6), ""},
        {"update replays nonce", testing::UpdateTx(k.device, "dev-1", 5), "replayed-nonce"},
        {"update with older nonce", testing::UpdateTx(k.device, "dev-1", 1), "replayed-nonce"},
        {"update for another device id", testing::UpdateTx(k.device, "dev-9", 7),
         "unauthorized-tx"},
        {"update by revoked device", testing::UpdateTx(k.device2, "dev-2", 100), "unauthorized-tx"},
        {"update by unknown key", testing::UpdateTx(fresh, "dev-1", 100), "unauthorized-tx"},
        {"update by a miner key", testing::UpdateTx(k.miner, "acme", 100), "unauthorized-tx"},
        {"update with unknown state", testing::UpdateTx(k.device, "dev-1", 7, "melted"), "bad-tx"},
        {"approve by approver", testing::ApproveTx(k.approver, "abc"), ""},
        {"approve by release key", testing::ApproveTx(k.release, "abc"), "unauthorized-tx"},
        // One release per (product, sequence), one approval per (release, approver).
        {"release of a recorded sequence", testing::ReleaseTx(k.release, "cam", "1.0.3", 3),
         "duplicate-release"},
        {"release of that sequence for another product",
         testing::ReleaseTx(k.release, "doorbell", "1.0.3", 3), ""},
        {"outsider release of a recorded sequence",
         testing::ReleaseTx(k.outsider, "cam", "1.0.3", 3), "unauthorized-tx"},
        {"approve twice", testing::ApproveTx(k.approver, "rel-1"), "duplicate-approval"},
        {"approve another release", testing::ApproveTx(k.approver, "rel-2"), ""},
        // Rollout controls: a release or approver key, a known action, a release tx id.
        {"pause by release key", testing::RolloutTx(k.release, std::string(64, 'a'), "pause"), ""},
        {"abort by approver", testing::RolloutTx(k.approver, std::string(64, 'a'), "abort"), ""},
        {"resume by admission key", testing::RolloutTx(k.admission, std::string(64, 'a'), "resume"),
         "unauthorized-tx"},
        {"pause by a device", testing::RolloutTx(k.device, std::string(64, 'a'), "pause"),
         "unauthorized-tx"},
        {"rollout with unknown action",
         testing::RolloutTx(k.release, std::string(64, 'a'), "rewind"), "bad-tx"},
        {"rollout of a non-id", testing::RolloutTx(k.release, "rel-1", "pause"), "bad-tx"},
        {"S + L of a valid update", testing::MalleateS(testing::UpdateTx(k.device, "dev-1", 6)),
         "bad-tx"},
    };
    for (const auto& c : cases) {
        ValidationState state;
        const bool ok = CheckTxForChain(c.tx, c.tx.Id(), 5, view, state);
        EXPECT_EQ(ok ? std::string() : state.RejectReason(), c.want) << c.name;
    }

    // A status heartbeat follows the update rules.
    Tx status = testing::UpdateTx(k.device, "dev-1", 9);
    status.type = txtype::kStatus;
    status.state = "";
    status.SignWith(k.device);
    ValidationState s1;
    EXPECT_TRUE(CheckTxForChain(status, status.Id(), 5, view, s1)) << s1.ToString();
    // Already in the chain.
    view.txs.insert(status.Id());
    ValidationState s2;
    EXPECT_FALSE(CheckTxForChain(status, status.Id(), 5, view, s2));
    EXPECT_EQ(s2.RejectReason(), "duplicate-tx");
    EXPECT_EQ(s2.ToError().code, Errc::kConflict);
}

// The body rules of the ledger, kept as they were before the bodies were typed
// (common/core/tx_bodies.hpp): this table passed on the untyped code and must keep passing.
TEST(TxShapeTest, BodyDecisionsAreUnchanged) {
    Keys k;
    const SigningKey fresh = SigningKey::Generate();
    auto with_body = [](Tx tx, const SigningKey& signer, Json body) {
        tx.body = std::move(body);
        return testing::Signed(tx, signer);
    };
    const Tx rel = testing::ReleaseTx(k.release, "cam", "1.0.0", 1);
    const Tx adm = testing::AdmitTx(k.admission, "dev-3", fresh, "device");
    const Tx rev = testing::RevokeTx(k.admission, "dev-1", k.device, "device");
    const Tx upd = testing::UpdateTx(k.device, "dev-1", 6);
    Tx root = rel;
    root.type = kRootTxType;
    const std::string m(64, 'a');
    const std::string key = fresh.PublicHex();
    struct Case {
        const char* name;
        Tx tx;
        bool valid;
    };
    const Case cases[] = {
        {"release as built", rel, true},
        {"release without hardware",
         with_body(rel, k.release, {{"sequence", 1u}, {"manifest_sha256", m}}), true},
        {"release with hardware not a list",
         with_body(rel, k.release, {{"sequence", 1u}, {"manifest_sha256", m}, {"hardware", 5}}),
         true},
        {"release with an extra field",
         with_body(rel, k.release, {{"sequence", 1u}, {"manifest_sha256", m}, {"note", "x"}}),
         true},
        {"release without sequence", with_body(rel, k.release, {{"manifest_sha256", m}}), false},
        {"release with a negative sequence",
         with_body(rel, k.release, {{"sequence", -1}, {"manifest_sha256", m}}), false},
        {"release with a string sequence",
         with_body(rel, k.release, {{"sequence", "1"}, {"manifest_sha256", m}}), false},
        {"release with a short manifest hash",
         with_body(rel, k.release, {{"sequence", 1u}, {"manifest_sha256", "abcd"}}), false},
        {"release with a body that is a list", with_body(rel, k.release, Json::array()), false},
        {"admit as built", adm, true},
        {"admit without product", with_body(adm, k.admission, {{"key", key}, {"role", "device"}}),
         true},
        {"admit with a numeric product",
         with_body(adm, k.admission, {{"key", key}, {"role", "device"}, {"product", 1}}), false},
        {"admit with a bad key", with_body(adm, k.admission, {{"key", "zz"}, {"role", "device"}}),
         false},
        {"admit without role", with_body(adm, k.admission, {{"key", key}}), false},
        {"admit as a miner", with_body(adm, k.admission, {{"key", key}, {"role", "miner"}}), false},
        {"revoke as built", rev, true},
        {"revoke with a string product",
         with_body(rev, k.admission, {{"key", key}, {"role", "device"}, {"product", "cam"}}), true},
        {"revoke with a numeric product",
         with_body(rev, k.admission, {{"key", key}, {"role", "device"}, {"product", 1}}), false},
        {"revoke without key", with_body(rev, k.admission, {{"role", "device"}}), false},
        {"update as built", upd, true},
        {"update with an empty body", with_body(upd, k.device, Json::object()), true},
        {"update with a mistyped body", with_body(upd, k.device, {{"product", 5}}), true},
        {"root without envelope", with_body(root, k.root, Json::object()), false},
        {"root with a string envelope", with_body(root, k.root, {{"root", "r.json"}}), false},
    };
    for (const auto& c : cases) {
        ValidationState state;
        const bool valid = CheckTxShape(c.tx, state);
        EXPECT_EQ(valid, c.valid) << c.name << ": " << state.ToString();
        if (!c.valid) {
            EXPECT_EQ(state.RejectReason(), "bad-tx") << c.name;
        }
    }
}

TEST(StateOverlayTest, ApplyTracksNoncesRevocationsAndAdmissions) {
    Keys k;
    const Root root = ParseRoot(testing::MakeRootEnvelope(k, 1700000000)).value();
    MapView view(root);
    view.AddKey(k.device, role::kDevice, "dev-1");
    StateOverlay overlay(view);

    Tx u = testing::UpdateTx(k.device, "dev-1", 3);
    ASSERT_TRUE(overlay.Apply(u, u.Id(), 1));
    ValidationState replay;
    Tx again = testing::UpdateTx(k.device, "dev-1", 3, "failed");
    EXPECT_FALSE(CheckTxForChain(again, again.Id(), 1, overlay, replay));
    EXPECT_EQ(replay.RejectReason(), "replayed-nonce");

    Tx revoke = testing::RevokeTx(k.admission, "dev-1", k.device, "device");
    ASSERT_TRUE(overlay.Apply(revoke, revoke.Id(), 1));
    ValidationState revoked;
    Tx later = testing::UpdateTx(k.device, "dev-1", 4);
    EXPECT_FALSE(CheckTxForChain(later, later.Id(), 2, overlay, revoked));
    EXPECT_EQ(revoked.RejectReason(), "unauthorized-tx");
    // The base view is untouched.
    EXPECT_FALSE(view.keys[k.device.PublicHex()].revoked);
    EXPECT_EQ(overlay.ChangedKeys().size(), 1u);
}

}  // namespace
}  // namespace fwchain::ledger
