// require_ledger_proof: real headers mined at low difficulty with the ledger primitives, the
// release tx's Merkle path, and each forgery refused with its reason; then the same through a
// boot against the fake gateway.
#include "device-agent/ledger_proof.hpp"

#include <gtest/gtest.h>

#include "common/core/fs.hpp"
#include "device-agent/agent.hpp"
#include "ledger/primitives/block.hpp"
#include "ledger/primitives/merkle.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/device-agent/fake_gateway.hpp"
#include "tests/unit/device-agent/test_vendor.hpp"

namespace fwchain::device {
namespace {

using test::FakeGateway;
using test::Image;
using test::MakeImage;
using test::ReleaseSpec;
using test::TestVendor;

constexpr std::uint32_t kBits = 8;

// A chain of headers (height = index) mined at `bits`.
class TestChain {
  public:
    explicit TestChain(std::uint32_t bits) : bits_(bits) { Add({}); }

    static void Mine(ledger::BlockHeader& h) {
        while (!ledger::MeetsBits(h.Hash(), h.bits)) ++h.nonce;
    }

    // Appends a block holding `tx_ids`; returns its height.
    std::uint64_t Add(const std::vector<Hash256>& tx_ids) {
        ledger::BlockHeader h;
        h.bits = bits_;
        h.height = headers_.size();
        h.timestamp = 1700000000 + static_cast<std::int64_t>(h.height) * 10;
        if (!headers_.empty()) h.prev_hash = headers_.back().Hash();
        h.merkle_root = ledger::MerkleRoot(tx_ids);
        h.miner = miner_.Public();
        Mine(h);
        headers_.push_back(h);
        return h.height;
    }
    void AddEmpty(int n) {
        for (int i = 0; i < n; ++i) Add({Hash256{static_cast<std::uint8_t>(i + 1)}});
    }

    LedgerCheckpoint Checkpoint(std::uint64_t height) const {
        return {height, ToHex(headers_.at(height).Hash())};
    }
    Json Headers(std::uint64_t from, std::uint64_t to) const {
        Json a = Json::array();
        for (std::uint64_t i = from; i <= to; ++i) a.push_back(ToHex(headers_.at(i).Serialize()));
        return a;
    }
    std::vector<ledger::BlockHeader>& headers() { return headers_; }
    std::uint64_t tip() const { return headers_.size() - 1; }

  private:
    std::uint32_t bits_;
    SigningKey miner_ = SigningKey::Generate();
    std::vector<ledger::BlockHeader> headers_;
};

Hash256 Id(const Tx& tx) { return *Hash256FromHex(tx.Id()); }

class LedgerProofTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ReleaseSpec spec;
        spec.sequence = 1;
        spec.version = "1.1.0";
        spec.sha256 = image_.sha256;
        spec.size = image_.bytes.size();
        manifest_ = vendor_.Release(spec);
        tx_ = vendor_.ReleaseTx(manifest_);
        auto env = ParseEnvelope(manifest_.ToJson());
        auto rel = ParseRelease(*env);
        ASSERT_TRUE(rel) << rel.error().ToString();
        release_ = *rel;
    }

    // Block 2 holds the release tx among three others; `confirm` blocks end at or above it.
    Json Proof(TestChain& chain, int confirm = 3) {
        chain.AddEmpty(1);
        std::vector<Hash256> ids{Hash256{9}, Hash256{8}, Id(tx_), Hash256{7}};
        height_ = chain.Add(ids);
        chain.AddEmpty(confirm - 1);
        return Json{{"tx", tx_.ToJson()},
                    {"height", height_},
                    {"proof", ledger::MerkleProofToJson(ledger::MakeMerkleProof(ids, 2))},
                    {"headers", chain.Headers(1, chain.tip())}};
    }

    Expected<LedgerCheckpoint> Verify(const Json& ledger, const TestChain& chain,
                                      LedgerPolicy policy = {kBits, 2, 64}) {
        return VerifyLedgerProof(vendor_.root(), release_, ledger, chain.Checkpoint(0), policy);
    }
    void ExpectRefused(const Json& ledger, const TestChain& chain, const std::string& reason,
                       LedgerPolicy policy = {kBits, 2, 64}) {
        auto r = Verify(ledger, chain, policy);
        ASSERT_FALSE(r) << "accepted a forged proof; expected " << reason;
        EXPECT_EQ(r.error().reason, reason) << r.error().message;
    }

    TestVendor vendor_;
    Image image_ = MakeImage(4096, 1);
    Envelope manifest_;
    Tx tx_;
    Release release_;
    std::uint64_t height_ = 0;
};

TEST_F(LedgerProofTest, AcceptsARealProofAndAdvancesTheCheckpointKeepingAMargin) {
    TestChain chain(kBits);
    const Json ledger = Proof(chain, 6);  // tip = 7
    auto cp = Verify(ledger, chain, {kBits, 2, 64});
    ASSERT_TRUE(cp) << cp.error().ToString();
    EXPECT_EQ(cp->height, 0u);  // within finality_depth of the tip: stays at genesis
    cp = Verify(ledger, chain, {kBits, 2, 3});
    ASSERT_TRUE(cp) << cp.error().ToString();
    EXPECT_EQ(cp->height, 1u);  // min(tip - 3, tx block - 1): the release stays provable
    EXPECT_EQ(cp->hash, ToHex(chain.headers()[1].Hash()));
}

TEST_F(LedgerProofTest, RefusesABadMerklePath) {
    TestChain chain(kBits);
    Json ledger = Proof(chain);
    std::string h = ledger["proof"][0]["hash"].get<std::string>();
    h[0] = h[0] == '0' ? '1' : '0';
    ledger["proof"][0]["hash"] = h;
    ExpectRefused(ledger, chain, "ledger-bad-merkle");
    // The right path at the wrong height.
    Json moved = Proof(chain);
    moved["height"] = height_ + 1;
    ExpectRefused(moved, chain, "ledger-bad-merkle");
}

TEST_F(LedgerProofTest, RefusesAHeaderMissingItsProofOfWork) {
    TestChain chain(kBits);
    Proof(chain);
    ledger::BlockHeader& last = chain.headers().back();
    do {
        ++last.nonce;
    } while (ledger::MeetsBits(last.Hash(), last.bits));
    Json ledger{{"tx", tx_.ToJson()},
                {"height", height_},
                {"proof", ledger::MerkleProofToJson(ledger::MakeMerkleProof(
                              {Hash256{9}, Hash256{8}, Id(tx_), Hash256{7}}, 2))},
                {"headers", chain.Headers(1, chain.tip())}};
    ExpectRefused(ledger, chain, "ledger-bad-pow");
}

TEST_F(LedgerProofTest, RefusesDifficultyBelowTheChainMinimum) {
    TestChain easy(2);  // cheap to forge: each header meets its own (too low) bits
    const Json ledger = Proof(easy);
    ExpectRefused(ledger, easy, "ledger-bad-pow");
}

TEST_F(LedgerProofTest, RefusesABrokenPrevLink) {
    TestChain chain(kBits);
    Json ledger = Proof(chain);
    // A re-mined header (valid PoW) that does not extend its predecessor.
    ledger::BlockHeader h = chain.headers().back();
    h.prev_hash = Hash256{1, 2, 3};
    TestChain::Mine(h);
    ledger["headers"].back() = ToHex(h.Serialize());
    ExpectRefused(ledger, chain, "ledger-bad-link");
    // Headers that do not start right after the checkpoint.
    Json skipped = ledger;
    skipped["headers"] = chain.Headers(2, chain.tip());
    ExpectRefused(skipped, chain, "ledger-bad-link");
}

TEST_F(LedgerProofTest, RefusesTooFewConfirmations) {
    TestChain chain(kBits);
    Json ledger = Proof(chain, 1);  // the tx's block is the tip
    ExpectRefused(ledger, chain, "ledger-too-few-confirmations");
    ASSERT_TRUE(Verify(ledger, chain, {kBits, 1, 64}));
}

TEST_F(LedgerProofTest, RefusesATxThatIsNotThisReleaseByAReleaseKey) {
    TestChain chain(kBits);
    SigningKey thief = SigningKey::Generate();
    tx_ = vendor_.ReleaseTx(manifest_, &thief);
    ExpectRefused(Proof(chain), chain, "ledger-bad-tx");

    TestChain chain2(kBits);
    // Genuinely signed by the release key, but for another manifest of the same image.
    ReleaseSpec other;
    other.sequence = 1;
    other.version = "1.1.1";
    other.sha256 = image_.sha256;
    other.size = image_.bytes.size();
    tx_ = vendor_.ReleaseTx(vendor_.Release(other));
    ExpectRefused(Proof(chain2), chain2, "ledger-bad-tx");

    ExpectRefused(Json(nullptr), chain2, "ledger-proof-missing");
    ExpectRefused(Json{{"tx", tx_.ToJson()}}, chain2, "ledger-bad-proof");
}

// The same through a boot: device.json asks for proofs, the check carries the checkpoint.
class LedgerBootTest : public LedgerProofTest {
  protected:
    void SetUp() override {
        LedgerProofTest::SetUp();
        dir_ = tmp_.path() + "/device";
        vendor_.Provision(dir_, "dev-0001");
        auto cfg = LoadJsonFile(dir_ + "/device.json", 1 << 16);
        ASSERT_TRUE(cfg);
        (*cfg)["require_ledger_proof"] = true;
        (*cfg)["ledger_checkpoint"] = chain_.Checkpoint(0).ToJson();
        (*cfg)["ledger_min_bits"] = kBits;
        (*cfg)["ledger_finality_depth"] = 2;
        ASSERT_TRUE(WriteFileAtomic(dir_ + "/device.json", cfg->dump()));
        gw_.SetImage(image_.sha256, image_.bytes);
        gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), manifest_);
    }
    BootResult Boot() {
        BootOptions o;
        o.state_dir = dir_;
        o.gateway_url = gw_.Url();
        o.fetch.max_attempts = 1;
        return RunBoot(o);
    }

    fwchain::test::TempDir tmp_;
    std::string dir_;
    TestChain chain_{kBits};
    FakeGateway gw_;
};

TEST_F(LedgerBootTest, InstallsWithAValidProofAndStoresTheCheckpoint) {
    gw_.SetLedger(Proof(chain_, 5));  // tx at 2, tip 6
    BootResult r = Boot();
    ASSERT_EQ(r.outcome, Outcome::kRebootPending) << r.reason << ": " << r.message;
    const Json check = gw_.Checks().at(0);
    EXPECT_EQ(check["ledger_proof"], true);
    EXPECT_EQ(check["ledger_checkpoint"], chain_.Checkpoint(0).ToJson());
    auto stored = LoadJsonFile(dir_ + "/ledger_checkpoint.json", 1 << 16);
    ASSERT_TRUE(stored);
    EXPECT_EQ(*stored, chain_.Checkpoint(1).ToJson());  // min(6 - 2, 2 - 1)
}

TEST_F(LedgerBootTest, RefusesAForgedProofWithAFailedReport) {
    Json ledger = Proof(chain_);
    ledger["proof"][0]["hash"] = std::string(64, '0');
    gw_.SetLedger(ledger);
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "ledger-bad-merkle") << r.message;
    EXPECT_TRUE(gw_.ImageRanges().empty());  // nothing downloaded
    ASSERT_EQ(gw_.Reports().size(), 1u);
    EXPECT_EQ(gw_.Reports()[0].state, "failed");
    EXPECT_EQ(gw_.Reports()[0].body["reason"], "ledger-bad-merkle");
    EXPECT_FALSE(FileExists(dir_ + "/ledger_checkpoint.json"));
}

TEST_F(LedgerBootTest, RefusesAnAnswerWithoutProof) {
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "ledger-proof-missing") << r.message;
}

}  // namespace
}  // namespace fwchain::device
