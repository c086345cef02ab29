#include "gateway/device_api/check_index.hpp"

#include <gtest/gtest.h>

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

TEST(CheckIndex, ProofAnswersCarryTheReleaseTxAndHeadersFromTheCheckpoint) {
    test::TestVendor v;
    auto headers = std::make_shared<HeaderChain>();
    for (int h = 0; h < 10; ++h) headers->push_back(std::string(272, static_cast<char>('0' + h)));
    Json ledger = {{"tx", {{"type", "release"}}}, {"height", 4}, {"proof", Json::array()}};
    CheckIndex index("gw", {v.RootV(1, v.root_key)}, v.Timestamp(1, {{"cam", 1}}),
                     {Offer{"cam", {"rev-b"}, 1, v.Release("cam", 1, {"rev-b"}, kSha), ledger}},
                     headers);
    struct Case {
        std::uint64_t checkpoint;
        std::size_t first_height;
    } cases[] = {{0, 1}, {2, 3}, {3, 4}, {6, 4}, {9, 4}};
    for (const auto& c : cases) {
        auto answer = ParseJson(index.AnswerWithProof("cam", "rev-b", 0, 1, c.checkpoint));
        ASSERT_TRUE(answer) << answer.error().ToString();
        const Json& l = (*answer)["ledger"];
        EXPECT_EQ(l["height"], 4);
        EXPECT_EQ(l["tx"]["type"], "release");
        ASSERT_EQ(l["headers"].size(), 10 - c.first_height) << "checkpoint " << c.checkpoint;
        EXPECT_EQ(l["headers"][0], (*headers)[c.first_height]);
        EXPECT_TRUE((*answer)["manifest"].is_object());
        EXPECT_EQ(Canonical(*answer), index.AnswerWithProof("cam", "rev-b", 0, 1, c.checkpoint));
    }
    // Nothing newer than the device: no manifest and no proof.
    auto none = ParseJson(index.AnswerWithProof("cam", "rev-b", 1, 1, 0));
    ASSERT_TRUE(none);
    EXPECT_TRUE((*none)["manifest"].is_null());
    EXPECT_FALSE(none->contains("ledger"));
}

}  // namespace
}  // namespace fwchain::gateway
