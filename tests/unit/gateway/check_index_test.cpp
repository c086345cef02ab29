#include "gateway/device_api/check_index.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "ledger/primitives/block.hpp"
#include "tests/unit/gateway/vendor_fixture.hpp"

namespace fwchain::gateway {
namespace {

const std::string kSha(64, 'a');

TEST(CheckIndex, OffersTheNewestMatchingManifestOnlyWhenNewerThanTheDevice) {
    test::TestVendor v;
    Envelope root = v.RootV(1, v.root_key);
    Envelope ts = v.Timestamp(3, {{"cam", 2}});
    CheckIndex index(
        "gw", {root}, ts,
        {Offer{"cam", {"rev-a", "rev-b"}, 2, v.Release("cam", 2, {"rev-a", "rev-b"}, kSha)},
         Offer{"cam", {"rev-b"}, 1, v.Release("cam", 1, {"rev-b"}, kSha)}});

    struct Case {
        std::string product, hardware;
        std::uint64_t sequence;
        bool expect_manifest;
        std::uint64_t expect_seq;
    } cases[] = {
        {"cam", "rev-b", 0, true, 2}, {"cam", "rev-b", 1, true, 2},  {"cam", "rev-b", 2, false, 0},
        {"cam", "rev-a", 0, true, 2}, {"cam", "rev-c", 0, false, 0}, {"bell", "rev-b", 0, false, 0},
    };
    for (const auto& c : cases) {
        auto answer = ParseJson(index.Answer(c.product, c.hardware, c.sequence, 1));
        ASSERT_TRUE(answer) << answer.error().ToString();
        EXPECT_EQ((*answer)["gateway_id"], "gw");
        EXPECT_EQ((*answer)["timestamp"]["signed"]["version"], 3);
        EXPECT_EQ((*answer)["manifest"].is_object(), c.expect_manifest)
            << c.product << "/" << c.hardware << "@" << c.sequence;
        if (c.expect_manifest) {
            EXPECT_EQ((*answer)["manifest"]["signed"]["sequence"], c.expect_seq);
        }
        // Pre-serialised answers are canonical JSON, byte for byte.
        EXPECT_EQ(Canonical(*answer), index.Answer(c.product, c.hardware, c.sequence, 1));
    }
}

TEST(CheckIndex, SendsOnlyTheRootsTheDeviceLacks) {
    test::TestVendor v;
    std::vector<Envelope> roots = {v.RootV(1, v.root_key), v.RootV(2, v.root_key),
                                   v.RootV(3, v.root_key)};
    CheckIndex index("gw", roots, v.Timestamp(1, {}), {});
    for (std::uint64_t have : {0u, 1u, 2u, 3u, 99u}) {
        auto answer = ParseJson(index.Answer("cam", "rev-b", 0, have));
        ASSERT_TRUE(answer);
        const Json& got = (*answer)["roots"];
        const std::uint64_t expected = have >= 3 ? 0 : 3 - have;
        ASSERT_EQ(got.size(), expected) << "device root v" << have;
        for (std::size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i]["signed"]["version"], have + 1 + i);
        }
    }
}

}  // namespace
}  // namespace fwchain::gateway

namespace fwchain::gateway {
namespace {

// A header chain of `n` linked headers (no proof of work: the gateway relays, devices check),
// header i mined by key {i % 2} and "signed" with the bytes {i}.
std::shared_ptr<ProofHeaders> FakeHeaders(std::size_t n) {
    auto headers = std::make_shared<ProofHeaders>();
    headers->tip = n - 1;
    Hash256 prev{};
    for (std::size_t i = 0; i < n; ++i) {
        ledger::BlockHeader h;
        h.height = i;
        h.prev_hash = prev;
        h.miner = PublicKey{static_cast<std::uint8_t>(i % 2)};
        ChainHeader c;
        c.header = h.Serialize();
        c.miner_sig = Signature{static_cast<std::uint8_t>(i)};
        headers->by_height.emplace(i, c);
        prev = h.Hash();
    }
    return headers;
}
std::string HeaderHex(const ProofHeaders& chain, std::uint64_t height) {
    return ToHex(chain.by_height.at(height).header);
}
std::string HashHex(const ProofHeaders& chain, std::uint64_t height) {
    return ToHex(ledger::BlockHeader::Deserialize(chain.by_height.at(height).header.data()).Hash());
}
const std::string kMiner1 = ToHex(PublicKey{1});

TEST(CheckIndex, ProofAnswersCarryTheReleaseTxAndHeadersFromTheCheckpoint) {
    test::TestVendor v;
    auto headers = FakeHeaders(10);
    Json ledger = {{"tx", {{"type", "release"}}}, {"height", 4}, {"proof", Json::array()}};
    CheckIndex index("gw", {v.RootV(1, v.root_key)}, v.Timestamp(1, {{"cam", 1}}),
                     {Offer{"cam", {"rev-b"}, 1, v.Release("cam", 1, {"rev-b"}, kSha), ledger}},
                     headers);
    struct Case {
        std::uint64_t checkpoint;
        std::size_t first_height;
    } cases[] = {{0, 1}, {2, 3}, {3, 4}};
    for (const auto& c : cases) {
        auto answer = ParseJson(index.AnswerWithProof("cam", "rev-b", 0, 1, c.checkpoint));
        ASSERT_TRUE(answer) << answer.error().ToString();
        const Json& l = (*answer)["ledger"];
        EXPECT_EQ(l["height"], 4);
        EXPECT_EQ(l["tx"]["type"], "release");
        ASSERT_EQ(l["headers"].size(), 10 - c.first_height) << "checkpoint " << c.checkpoint;
        EXPECT_EQ(l["headers"][0]["header"], HeaderHex(*headers, c.first_height));
        EXPECT_EQ(l["headers"][0]["miner_sig"],
                  ToHex(headers->by_height.at(c.first_height).miner_sig));
        EXPECT_TRUE((*answer)["manifest"].is_object());
        EXPECT_EQ(Canonical(*answer), index.AnswerWithProof("cam", "rev-b", 0, 1, c.checkpoint));
    }
    // A device whose checkpoint is at or above the release's block cannot anchor a proof of it:
    // no proof (it refuses with ledger-proof-missing) rather than one it cannot check.
    for (std::uint64_t checkpoint : {4u, 9u}) {
        auto answer = ParseJson(index.AnswerWithProof("cam", "rev-b", 0, 1, checkpoint));
        ASSERT_TRUE(answer);
        EXPECT_TRUE((*answer)["manifest"].is_object());
        EXPECT_FALSE(answer->contains("ledger"));
    }
    // Nothing newer than the device: no manifest and no proof.
    auto none = ParseJson(index.AnswerWithProof("cam", "rev-b", 1, 1, 0));
    ASSERT_TRUE(none);
    EXPECT_TRUE((*none)["manifest"].is_null());
    EXPECT_FALSE(none->contains("ledger"));
}

// The anchor follows the timestamp: its signed checkpoint when newer than the device's, the
// release's block once named; headers end kProofWindow above the release; each non-genesis
// miner's admission is attached, with its header when older than the first header sent.
TEST(CheckIndex, ProofsStartAtTheVendorsCheckpointAndAreBoundedAtAnyChainLength) {
    test::TestVendor v;
    auto headers = FakeHeaders(20000);
    const std::uint64_t height = 19000;
    Json ledger = {{"tx", {{"type", "release"}}}, {"height", height}, {"proof", Json::array()}};
    const Envelope manifest = v.Release("cam", 1, {"rev-b"}, kSha);
    auto admissions = std::make_shared<Admissions>();
    (*admissions)[kMiner1] =
        Json{{"tx", {{"type", "admit"}}}, {"height", 7}, {"proof", Json::array()}};
    auto timestamp = [&](std::optional<LedgerPoint> block) {
        ManifestMap manifests;
        manifests["cam"][1] = ManifestEntry{manifest.SignedHash(), block};
        return SignDocument(MakeTimestampSigned(1, v.now, v.now + 86400, {{"cam", 1}}, manifests,
                                                LedgerPoint{18900, HashHex(*headers, 18900)}, 1),
                            {&v.timestamp_key});
    };
    for (bool named : {false, true}) {
        CheckIndex index("gw", {v.RootV(1, v.root_key)},
                         timestamp(named ? std::optional<LedgerPoint>(
                                               LedgerPoint{height, HashHex(*headers, height)})
                                         : std::nullopt),
                         {Offer{"cam", {"rev-b"}, 1, manifest, ledger}}, headers, admissions);
        auto answer = ParseJson(index.AnswerWithProof("cam", "rev-b", 0, 1, 0));
        ASSERT_TRUE(answer) << answer.error().ToString();
        const Json& l = (*answer)["ledger"];
        const std::uint64_t first = named ? height : 18901;
        ASSERT_EQ(l["headers"].size(), height + kProofWindow - first + 1) << named;
        EXPECT_EQ(l["headers"][0]["header"], HeaderHex(*headers, first));
        EXPECT_EQ(l["headers"].back()["header"], HeaderHex(*headers, height + kProofWindow));
        ASSERT_EQ(l["admissions"].size(), 1u);  // miner 0 is a genesis miner: nothing to attach
        EXPECT_EQ(l["admissions"][0]["header"], HeaderHex(*headers, 7));
        // A device whose own checkpoint is newer than the vendor's anchors there.
        if (!named) {
            auto own = ParseJson(index.AnswerWithProof("cam", "rev-b", 0, 1, 18950));
            ASSERT_TRUE(own);
            EXPECT_EQ((*own)["ledger"]["headers"][0]["header"], HeaderHex(*headers, 18951));
        }
    }
}

// The gateway holds only the headers ProofRanges names, not the whole chain (issue 11): every
// answer built from them is byte for byte the one the whole chain gives, for any device
// checkpoint, with or without the vendor's checkpoint and named block; and a header missing
// from them means no proof, never a different one.
TEST(CheckIndex, TheHeadersProofRangesNameGiveTheSameProofsAsTheWholeChain) {
    test::TestVendor v;
    auto full = FakeHeaders(20000);
    const std::uint64_t height = 19000;
    const Json ledger = {{"tx", {{"type", "release"}}},
                         {"height", height},
                         {"proof", Json::array()},
                         {"approvals", Json::array({Json{{"height", 19010}}})}};
    const Envelope manifest = v.Release("cam", 1, {"rev-b"}, kSha);
    const std::vector<Offer> offers = {Offer{"cam", {"rev-b"}, 1, manifest, ledger}};
    auto admissions = std::make_shared<Admissions>();
    (*admissions)[kMiner1] =
        Json{{"tx", {{"type", "admit"}}}, {"height", 7}, {"proof", Json::array()}};
    auto timestamp = [&](bool named, bool checkpoint) {
        ManifestMap manifests;
        manifests["cam"][1] = ManifestEntry{
            manifest.SignedHash(),
            named ? std::optional<LedgerPoint>(LedgerPoint{height, HashHex(*full, height)})
                  : std::nullopt};
        return SignDocument(MakeTimestampSigned(1, v.now, v.now + 86400, {{"cam", 1}}, manifests,
                                                checkpoint ? std::optional<LedgerPoint>(LedgerPoint{
                                                                 18900, HashHex(*full, 18900)})
                                                           : std::nullopt,
                                                1),
                            {&v.timestamp_key});
    };
    std::size_t proofs = 0;
    for (bool named : {false, true}) {
        for (bool checkpoint : {false, true}) {
            const Envelope ts = timestamp(named, checkpoint);
            auto sparse = std::make_shared<ProofHeaders>();
            sparse->tip = full->tip;
            for (const auto& r : ProofRanges(ts, offers, full->tip, admissions.get())) {
                for (auto h = r.first; h <= r.last; ++h) {
                    sparse->by_height.emplace(h, full->by_height.at(h));
                }
            }
            // At most one proof's worth of headers plus the admission's block.
            EXPECT_LE(sparse->by_height.size(), kMaxProofHeaders + 1) << named << checkpoint;
            const CheckIndex whole("gw", {v.RootV(1, v.root_key)}, ts, offers, full, admissions);
            const CheckIndex held("gw", {v.RootV(1, v.root_key)}, ts, offers, sparse, admissions);
            for (std::uint64_t device_checkpoint :
                 {0u, 5u, 11074u, 11075u, 12000u, 18899u, 18900u, 18950u, 18999u, 19000u}) {
                const std::string want =
                    whole.AnswerWithProof("cam", "rev-b", 0, 1, device_checkpoint);
                EXPECT_EQ(held.AnswerWithProof("cam", "rev-b", 0, 1, device_checkpoint), want)
                    << named << checkpoint << " device checkpoint " << device_checkpoint;
                auto answer = ParseJson(want);
                ASSERT_TRUE(answer);
                if (answer->contains("ledger")) ++proofs;
            }
            // A header of the proof missing: no proof at all.
            sparse->by_height.erase(19005);
            const CheckIndex holed("gw", {v.RootV(1, v.root_key)}, ts, offers, sparse, admissions);
            auto answer = ParseJson(holed.AnswerWithProof("cam", "rev-b", 0, 1, 18950));
            ASSERT_TRUE(answer);
            EXPECT_TRUE((*answer)["manifest"].is_object());
            EXPECT_FALSE(answer->contains("ledger"));
        }
    }
    EXPECT_GE(proofs, 20u);  // the comparison covered real proofs, not only refusals
}

}  // namespace
}  // namespace fwchain::gateway
