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
