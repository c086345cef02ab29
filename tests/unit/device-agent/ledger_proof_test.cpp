// require_ledger_proof: real headers mined at low difficulty and signed by their miners with the
// ledger primitives, the release tx's Merkle path, miner admissions, and each forgery refused
// with its reason; then the same through a boot against the fake gateway.
#include "device-agent/ledger_proof.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "common/core/fs.hpp"
#include "common/core/tx_bodies.hpp"
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

// A chain of headers (height = index) mined at `bits`, each signed by its miner.
class TestChain {
  public:
    explicit TestChain(std::uint32_t bits) : bits_(bits) {
        miners_.push_back(SigningKey::Generate());
        miners_.push_back(SigningKey::Generate());
        Add({});
    }

    static void Mine(ledger::BlockHeader& h) {
        while (!ledger::MeetsBits(h.Hash(), h.bits)) ++h.nonce;
    }

    // Appends a block holding `tx_ids`, mined by `miner` (default: the two genesis miners in
    // turn); returns its height.
    std::uint64_t Add(const std::vector<Hash256>& tx_ids, const SigningKey* miner = nullptr) {
        ledger::BlockHeader h;
        h.bits = bits_;
        h.height = headers_.size();
        h.timestamp = 1700000000 + static_cast<std::int64_t>(h.height) * 10;
        if (!headers_.empty()) h.prev_hash = headers_.back().Hash();
        h.merkle_root = ledger::MerkleRoot(tx_ids);
        const SigningKey& key = miner ? *miner : miners_[h.height % 2];
        h.miner = key.Public();
        Mine(h);
        const Hash256 hash = h.Hash();
        headers_.push_back(h);
        sigs_.push_back(
            key.Sign(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size())));
        return h.height;
    }
    void AddEmpty(int n, const SigningKey* miner = nullptr) {
        for (int i = 0; i < n; ++i) Add({Hash256{static_cast<std::uint8_t>(i + 1)}}, miner);
    }

    LedgerCheckpoint Checkpoint(std::uint64_t height) const {
        return {height, ToHex(headers_.at(height).Hash())};
    }
    LedgerPoint Point(std::uint64_t height) const {
        return {height, ToHex(headers_.at(height).Hash())};
    }
    Json Entry(std::uint64_t height) const {
        return Json{{"header", ToHex(headers_.at(height).Serialize())},
                    {"miner_sig", ToHex(sigs_.at(height))}};
    }
    Json Headers(std::uint64_t from, std::uint64_t to) const {
        Json a = Json::array();
        for (std::uint64_t i = from; i <= to; ++i) a.push_back(Entry(i));
        return a;
    }
    // Re-signs header `height` after a test changed it.
    void Resign(std::uint64_t height, const SigningKey& key) {
        const Hash256 hash = headers_.at(height).Hash();
        sigs_.at(height) =
            key.Sign(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
    }
    std::vector<ledger::BlockHeader>& headers() { return headers_; }
    std::uint64_t tip() const { return headers_.size() - 1; }
    std::vector<PublicKey> genesis_miners() const {
        return {miners_[0].Public(), miners_[1].Public()};
    }
    const SigningKey& miner(std::size_t i) const { return miners_.at(i); }

  private:
    std::uint32_t bits_;
    std::vector<SigningKey> miners_;
    std::vector<ledger::BlockHeader> headers_;
    std::vector<Signature> sigs_;
};

Hash256 Id(const Tx& tx) { return *Hash256FromHex(tx.Id()); }

// An `admit` tx for a gateway key, as vendor-server admit-gateway signs it.
Tx AdmitTx(const SigningKey& admission, const PublicKey& gateway) {
    Tx tx;
    tx.type = txtype::kAdmit;
    tx.recipient = "gw-" + ToHex(gateway).substr(0, 8);
    tx.time = 1700000000;
    tx.nonce = 7;
    tx.body = AdmitTxBody{ToHex(gateway), kRoleGateway, ""}.ToJson();
    tx.SignWith(admission);
    return tx;
}

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

    // The release tx in a block among three others, then blocks so that `confirm` headers end
    // at or above it. `before` empty blocks come first (after genesis).
    Json Proof(TestChain& chain, int confirm = 3, const SigningKey* miner = nullptr,
               int before = 1) {
        chain.AddEmpty(before, miner);
        std::vector<Hash256> ids{Hash256{9}, Hash256{8}, Id(tx_), Hash256{7}};
        height_ = chain.Add(ids, miner);
        chain.AddEmpty(confirm - 1, miner);
        return Json{{"tx", tx_.ToJson()},
                    {"height", height_},
                    {"proof", ledger::MerkleProofToJson(ledger::MakeMerkleProof(ids, 2))},
                    {"headers", chain.Headers(1, chain.tip())}};
    }

    LedgerPolicy Policy(const TestChain& chain, std::uint32_t confirmations = 2,
                        std::uint32_t miners = 2, std::uint64_t finality = 64) const {
        LedgerPolicy p;
        p.min_bits = kBits;
        p.confirmations = confirmations;
        p.distinct_miners = miners;
        p.finality_depth = finality;
        p.genesis_miners = chain.genesis_miners();
        return p;
    }
    Timestamp Ts() {
        auto ts = ParseTimestamp(vendor_.Timestamp({{"cam", 1}}));
        EXPECT_TRUE(ts) << ts.error().ToString();
        return *ts;
    }

    Expected<LedgerCheckpoint> Verify(const Json& ledger, const TestChain& chain,
                                      std::optional<LedgerPolicy> policy = std::nullopt) {
        return VerifyLedgerProof(vendor_.root(), Ts(), release_, ledger, chain.Checkpoint(0),
                                 policy ? *policy : Policy(chain));
    }
    void ExpectRefused(const Json& ledger, const TestChain& chain, const std::string& reason,
                       std::optional<LedgerPolicy> policy = std::nullopt) {
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
    const Json ledger = Proof(chain, 6);  // tx at 2, tip = 7
    auto cp = Verify(ledger, chain, Policy(chain, 2, 2, 64));
    ASSERT_TRUE(cp) << cp.error().ToString();
    EXPECT_EQ(cp->height, 0u);  // within finality_depth of the tip: stays at genesis
    cp = Verify(ledger, chain, Policy(chain, 2, 2, 3));
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
    Json ledger = Proof(chain);
    ledger::BlockHeader& last = chain.headers().back();
    do {
        ++last.nonce;
    } while (ledger::MeetsBits(last.Hash(), last.bits));
    chain.Resign(chain.tip(), chain.miner(chain.tip() % 2));
    ledger["headers"] = chain.Headers(1, chain.tip());
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
    // A re-mined and re-signed header (valid PoW) that does not extend its predecessor.
    ledger::BlockHeader& h = chain.headers().back();
    h.prev_hash = Hash256{1, 2, 3};
    TestChain::Mine(h);
    chain.Resign(chain.tip(), chain.miner(chain.tip() % 2));
    ledger["headers"] = chain.Headers(1, chain.tip());
    ExpectRefused(ledger, chain, "ledger-bad-link");
    // Headers that do not start right after the checkpoint.
    Json skipped = ledger;
    skipped["headers"] = chain.Headers(2, chain.tip());
    ExpectRefused(skipped, chain, "ledger-bad-link");
}

TEST_F(LedgerProofTest, RefusesTooFewConfirmations) {
    TestChain chain(kBits);
    Json ledger = Proof(chain, 1);  // the tx's block is the tip
    ExpectRefused(ledger, chain, "ledger-too-few-confirmations", Policy(chain, 2, 1));
    ASSERT_TRUE(Verify(ledger, chain, Policy(chain, 1, 1)));
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
    tx_ = vendor_.ReleaseTx(vendor_.UnlistedRelease(other));
    ExpectRefused(Proof(chain2), chain2, "ledger-bad-tx");

    ExpectRefused(Json(nullptr), chain2, "ledger-proof-missing");
    ExpectRefused(Json{{"tx", tx_.ToJson()}}, chain2, "ledger-bad-proof");
}

// Issue 10 item 2, the attack: the release key and a few headers mined in a script by a key
// of the thief's own. Every header meets the chain's difficulty and is signed by its miner,
// but that miner was never admitted.
TEST_F(LedgerProofTest, RefusesHeadersMinedByAKeyThatWasNeverAdmitted) {
    TestChain chain(kBits);
    const SigningKey thief = SigningKey::Generate();
    Json ledger = Proof(chain, 2, &thief);
    ExpectRefused(ledger, chain, "ledger-unadmitted-miner", Policy(chain, 2, 1));

    // An "admission" the thief signed himself, in a block of his own, does not help.
    TestChain chain2(kBits);
    const Tx fake_admit = AdmitTx(thief, thief.Public());
    chain2.Add({Id(fake_admit)}, &chain2.miner(1));
    Json forged = Proof(chain2, 2, &thief, 0);
    forged["admissions"] =
        Json::array({{{"tx", fake_admit.ToJson()}, {"height", 1}, {"proof", Json::array()}}});
    ExpectRefused(forged, chain2, "ledger-unadmitted-miner", Policy(chain2, 2, 1));
}

TEST_F(LedgerProofTest, AcceptsAGatewayAdmittedByTheVendorBelowTheBlocksItMined) {
    TestChain chain(kBits);
    const SigningKey gateway = SigningKey::Generate();
    const Tx admit = AdmitTx(vendor_.admission_key(), gateway.Public());
    const std::uint64_t at = chain.Add({Id(admit)});  // height 1, by a genesis miner
    chain.AddEmpty(1);
    std::vector<Hash256> ids{Id(tx_), Hash256{5}};
    height_ = chain.Add(ids, &gateway);
    chain.AddEmpty(1);  // a genesis miner confirms: 2 distinct miners
    Json ledger{
        {"tx", tx_.ToJson()},
        {"height", height_},
        {"proof", ledger::MerkleProofToJson(ledger::MakeMerkleProof(ids, 0))},
        {"headers", chain.Headers(1, chain.tip())},
        {"admissions",
         Json::array({{{"tx", admit.ToJson()}, {"height", at}, {"proof", Json::array()}}})}};
    auto cp = Verify(ledger, chain);
    ASSERT_TRUE(cp) << cp.error().ToString();

    // Without its admission the gateway's block does not count.
    Json bare = ledger;
    bare.erase("admissions");
    ExpectRefused(bare, chain, "ledger-unadmitted-miner");
    // Admitted at or above the height it mined: refused (the chain admits it only for later
    // blocks).
    Json late = ledger;
    late["admissions"][0]["height"] = height_;
    ExpectRefused(late, chain, "ledger-unadmitted-miner");
    // An admission by a key that is not an admission key of the root.
    Json wrong = ledger;
    wrong["admissions"][0]["tx"] = AdmitTx(SigningKey::Generate(), gateway.Public()).ToJson();
    ExpectRefused(wrong, chain, "ledger-unadmitted-miner");
}

TEST_F(LedgerProofTest, CountsApprovalsOfThisReleaseByApproverKeysInBlocksOfTheProof) {
    TestChain chain(kBits);
    const SigningKey approver = SigningKey::Generate();
    const SigningKey outsider = SigningKey::Generate();
    Root root = vendor_.root();
    root.keys[approver.Id()] = approver.Public();
    root.roles["approver"] = RoleKeys{{approver.Id()}, 1};
    release_.min_approvals = 1;
    auto approve = [](const SigningKey& k, const std::string& release_id) {
        Tx t;
        t.type = txtype::kApprove;
        t.recipient = release_id;
        t.time = 1700000100;
        t.nonce = 3;
        t.SignWith(k);
        return t;
    };
    auto verify = [&](const Json& l) {
        return VerifyLedgerProof(root, Ts(), release_, l, chain.Checkpoint(0), Policy(chain));
    };
    Json ledger = Proof(chain, 3);
    auto none = verify(ledger);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().reason, "ledger-too-few-approvals");

    // One block holding three approve txs: the approver's of this release, an outsider's, and
    // the approver's of another release. Only the first counts.
    const Tx good = approve(approver, tx_.Id());
    const Tx by_outsider = approve(outsider, tx_.Id());
    const Tx other = approve(approver, std::string(64, 'e'));
    const std::vector<Hash256> ids{Id(good), Id(by_outsider), Id(other)};
    const std::uint64_t at = chain.Add(ids);
    chain.AddEmpty(1);
    ledger["headers"] = chain.Headers(1, chain.tip());
    auto part = [&](const Tx& t, std::size_t index, std::uint64_t height) {
        return Json{{"tx", t.ToJson()},
                    {"height", height},
                    {"proof", ledger::MerkleProofToJson(ledger::MakeMerkleProof(ids, index))}};
    };
    ledger["approvals"] = Json::array({part(by_outsider, 1, at), part(other, 2, at)});
    auto not_counted = verify(ledger);
    ASSERT_FALSE(not_counted);
    EXPECT_EQ(not_counted.error().reason, "ledger-too-few-approvals");

    ledger["approvals"].push_back(part(good, 0, at));
    auto ok = verify(ledger);
    EXPECT_TRUE(ok) << ok.error().ToString();

    // The approval's path must lead to a block of the proof.
    ledger["approvals"] = Json::array({part(good, 1, at)});
    auto bad_path = verify(ledger);
    ASSERT_FALSE(bad_path);
    EXPECT_EQ(bad_path.error().reason, "ledger-bad-merkle");
    ledger["approvals"] = Json::array({part(good, 0, chain.tip() + 5)});
    auto outside = verify(ledger);
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.error().reason, "ledger-bad-merkle");
    ledger["approvals"] = "all of them";
    auto shape = verify(ledger);
    ASSERT_FALSE(shape);
    EXPECT_EQ(shape.error().reason, "ledger-bad-proof");
}

TEST_F(LedgerProofTest, RefusesConfirmationsFromOneMinerWhenTwoAreRequired) {
    TestChain chain(kBits);
    const Json ledger = Proof(chain, 5, &chain.miner(0));  // 5 confirmations, all by miner 0
    ExpectRefused(ledger, chain, "ledger-too-few-miners", Policy(chain, 2, 2));
    ASSERT_TRUE(Verify(ledger, chain, Policy(chain, 2, 1)));  // k = 1 accepts it
}

TEST_F(LedgerProofTest, RefusesAHeaderWithoutItsMinersSignature) {
    TestChain chain(kBits);
    Json ledger = Proof(chain);
    Json unsigned_entry = ledger;
    unsigned_entry["headers"][1].erase("miner_sig");
    ExpectRefused(unsigned_entry, chain, "ledger-bad-proof");
    // Signed by the other genesis miner instead of the header's own.
    Json swapped = ledger;
    swapped["headers"][1]["miner_sig"] = ledger["headers"][0]["miner_sig"];
    ExpectRefused(swapped, chain, "ledger-bad-miner-sig");
}

// A device checkpointed at genesis and a chain longer than any proof can carry: the vendor's
// signed checkpoint (or the release's block, once the timestamp names it) anchors the proof.
TEST_F(LedgerProofTest, ALongChainIsProvenFromTheVendorsCheckpoint) {
    TestChain chain(kBits);
    chain.AddEmpty(kMaxProofHeaders + 100);
    const Json ledger_from_genesis = Proof(chain, 3, nullptr, 0);
    ExpectRefused(ledger_from_genesis, chain, "ledger-bad-proof");  // too many headers

    // The vendor signs a checkpoint 70 blocks below the release: 73 headers instead of ~8,100.
    vendor_.SetLedgerCheckpoint(chain.Point(height_ - 70));
    Json ledger = ledger_from_genesis;
    ledger["headers"] = chain.Headers(height_ - 69, chain.tip());
    auto cp = Verify(ledger, chain, Policy(chain, 2, 2, 1));
    ASSERT_TRUE(cp) << cp.error().ToString();
    EXPECT_EQ(cp->height, height_ - 1);  // advanced from genesis to just below the release
    // Headers that do not start at the vendor's checkpoint are refused.
    Json off = ledger;
    off["headers"] = chain.Headers(height_ - 68, chain.tip());
    ExpectRefused(off, chain, "ledger-bad-link");

    // Once the timestamp names the release's block, the proof starts there.
    vendor_.SetReleaseBlock(manifest_, chain.Point(height_));
    Json named = ledger;
    named["headers"] = chain.Headers(height_, chain.tip());
    ASSERT_TRUE(Verify(named, chain)) << Canonical(named).size();
    // ... and only at the block it names.
    Json elsewhere = named;
    elsewhere["headers"] = chain.Headers(height_ - 1, chain.tip());
    ExpectRefused(elsewhere, chain, "ledger-bad-link");
}

// The measurement of docs/protocol.md "Size bound" (figures, not a timed assertion): proofs of
// 65 headers (the release's block named), 384 (the vendor checkpoint policy's bound) and 8,000
// (the hard cap) as the device receives them. Run:
//   ctest -R LedgerProofTest.SizeAndVerifyTimeAtTheBounds -V
TEST_F(LedgerProofTest, SizeAndVerifyTimeAtTheBounds) {
    TestChain chain(kBits);
    const Json base = Proof(chain, 65, nullptr, static_cast<int>(kMaxProofHeaders) - 65);
    ASSERT_EQ(chain.tip(), kMaxProofHeaders);
    // Largest first: once the timestamp names the release's block, proofs must start there.
    for (std::uint64_t n :
         {std::uint64_t{kMaxProofHeaders}, std::uint64_t{384}, std::uint64_t{65}}) {
        const std::uint64_t first = chain.tip() - n + 1;
        if (first == height_) {
            vendor_.SetReleaseBlock(manifest_, chain.Point(height_));
        } else if (first > 1) {
            vendor_.SetLedgerCheckpoint(chain.Point(first - 1));
        }
        Json ledger = base;
        ledger["headers"] = chain.Headers(first, chain.tip());
        ASSERT_EQ(ledger["headers"].size(), n);
        const std::size_t bytes = Canonical(ledger).size();
        EXPECT_LT(bytes, std::size_t{4} << 20) << "over the device's answer cap";
        const auto started = std::chrono::steady_clock::now();
        auto cp = Verify(ledger, chain);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        ASSERT_TRUE(cp) << n << " headers: " << cp.error().ToString();
        std::printf("BENCH device_ledger_proof_%llu_headers bytes=%zu verify_us=%lld\n",
                    static_cast<unsigned long long>(n), bytes, static_cast<long long>(us));
    }
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
        Json miners = Json::array();
        for (const auto& m : chain_.genesis_miners()) miners.push_back(ToHex(m));
        (*cfg)["ledger_genesis_miners"] = miners;
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

// The attack of issue 10 end to end: a stolen release key signs a manifest and its release tx,
// and a valid-looking proof is built for it, even on headers of the real miners. The timestamp
// (online key, not stolen) names the vendor's manifest, so the device refuses before the proof.
TEST_F(LedgerBootTest, RefusesAManifestWhoseHashTheTimestampDoesNotName) {
    ReleaseSpec evil;
    evil.sequence = 1;
    evil.version = "6.6.6";
    const Image payload = MakeImage(4096, 666);
    evil.sha256 = payload.sha256;
    evil.size = payload.bytes.size();
    const Envelope forged = vendor_.UnlistedRelease(evil);
    tx_ = vendor_.ReleaseTx(forged);
    gw_.SetImage(payload.sha256, payload.bytes);
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), forged);
    gw_.SetLedger(Proof(chain_, 5));
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "manifest-not-in-timestamp") << r.message;
    EXPECT_TRUE(gw_.ImageRanges().empty());
}

TEST_F(LedgerBootTest, AdoptsTheVendorsSignedCheckpoint) {
    chain_.AddEmpty(20);
    vendor_.SetLedgerCheckpoint(chain_.Point(15));
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), manifest_);
    gw_.SetLedger(Proof(chain_, 3, nullptr, 0));  // headers from 1: below the new anchor
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "ledger-bad-link") << r.message;
    auto stored = LoadJsonFile(dir_ + "/ledger_checkpoint.json", 1 << 16);
    ASSERT_TRUE(stored) << "the signed checkpoint was not stored";
    EXPECT_EQ(*stored, chain_.Checkpoint(15).ToJson());

    Json ledger = Proof(chain_, 3, nullptr, 0);
    ledger["headers"] = chain_.Headers(16, chain_.tip());
    gw_.SetLedger(ledger);
    r = Boot();
    ASSERT_EQ(r.outcome, Outcome::kRebootPending) << r.reason << ": " << r.message;
    EXPECT_EQ(gw_.Checks().back()["ledger_checkpoint"], chain_.Checkpoint(15).ToJson());
}

}  // namespace
}  // namespace fwchain::device
