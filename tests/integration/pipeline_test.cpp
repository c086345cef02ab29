// The demo's pipeline through the real executables, asserting on the ledger's contents.
#include <gtest/gtest.h>

#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

std::size_t CountWhere(const Json& results, const std::string& key, const std::string& value) {
    std::size_t n = 0;
    for (const auto& r : results) {
        if (r["tx"].value(key, "") == value) ++n;
    }
    return n;
}

TEST(Pipeline, ThreeDevicesUpdateTwiceThroughTwoGatewaysAndTheLedgerRecordsIt) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Tag("v1.1.0", "Night mode");
    sys.Start(/*gateways=*/2);

    const std::vector<std::string> ids = {"cam-001", "cam-002", "cam-003"};
    std::vector<std::string> dirs;
    for (const auto& id : ids) dirs.push_back(sys.Provision(id));
    auto gateway_for = [&](std::size_t i) { return sys.gateway_url(i == 2 ? 1 : 0); };

    for (const auto& [tag, version] : std::vector<std::pair<std::string, std::string>>{
             {"v1.0.0", "1.0.0"}, {"v1.1.0", "1.1.0"}}) {
        auto pub = sys.Publish(tag);
        ASSERT_EQ(pub.exit_code, 0) << pub.err;
        for (std::size_t i = 0; i < dirs.size(); ++i) {
            ASSERT_TRUE(sys.BootUntil(dirs[i], gateway_for(i), version))
                << ids[i] << " did not reach " << version;
        }
    }

    for (std::size_t i = 0; i < dirs.size(); ++i) {
        EXPECT_EQ(sys.Version(dirs[i]), "1.1.0") << ids[i];
        EXPECT_EQ(sys.Sequence(dirs[i]), 2u) << ids[i];
    }

    // Two releases, each recorded once by a release key.
    ASSERT_TRUE(sys.WaitForLedger("type=release&product=cam", 2));
    Json releases = sys.Search("type=release&product=cam");
    EXPECT_EQ(releases.size(), 2u);
    EXPECT_EQ(CountWhere(releases, "ver", "1.0.0"), 1u);
    EXPECT_EQ(CountWhere(releases, "ver", "1.1.0"), 1u);

    // Each device admitted once and with two `installed` records signed by its own key.
    Json admits = sys.Search("type=admit");
    EXPECT_EQ(admits.size(), 3u);
    for (const auto& id : ids) {
        ASSERT_TRUE(sys.WaitForLedger("device=" + id + "&type=update&state=installed", 2)) << id;
        Json updates = sys.Search("device=" + id + "&type=update&state=installed");
        EXPECT_EQ(updates.size(), 2u) << id;
        EXPECT_EQ(CountWhere(updates, "ver", "1.0.0"), 1u) << id;
        EXPECT_EQ(CountWhere(updates, "ver", "1.1.0"), 1u) << id;
        std::string admitted_key;
        for (const auto& a : admits) {
            if (a["tx"]["recipient"] == id) admitted_key = a["tx"]["body"].value("key", "");
        }
        for (const auto& u : updates) {
            EXPECT_EQ(u["tx"].value("sender", ""), admitted_key) << id;
            EXPECT_GE(u.value("confirmations", 0), 1) << id;
        }
    }
    // Both gateways fetched both images over BitTorrent (web seed and each other), none over
    // the plain-HTTP fallback.
    for (int g = 0; g < 2; ++g) {
        Json health = sys.GatewayHealth(g);
        EXPECT_EQ(health.value("fetched_bittorrent", -1), 2) << "gateway " << g << health.dump();
        EXPECT_EQ(health.value("fetched_http", -1), 0) << "gateway " << g << health.dump();
        // Two 64 KiB images went through libtorrent.
        EXPECT_GE(health["bittorrent"].value("downloaded", 0), 2 * 65536) << health.dump();
    }

    // No failures anywhere in this run.
    EXPECT_TRUE(sys.Search("type=update&state=failed").empty());
}

}  // namespace
}  // namespace fwchain::test
