// `device-agent fleet` with 20 devices provisioned by the real vendor server, updating through a
// real gateway twice with power loss injected at random points; the ledger must record exactly
// one signed `installed` report per device and release.
#include <gtest/gtest.h>

#include <map>

#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

constexpr int kDevices = 20;

Json Fleet(System& sys, const std::string& seed) {
    RunResult r = Run({Bin("device-agent"), "fleet", "--count", std::to_string(kDevices),
                       "--gateway", sys.gateway_url(), "--state-root", sys.dir() + "/devices",
                       "--threads", "4", "--power-loss-rate", "0.3", "--seed", seed, "--json"},
                      std::chrono::seconds(300));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = ParseJson(r.out, 1 << 20);
    EXPECT_TRUE(j) << r.out;
    return j ? *j : Json::object();
}

TEST(Fleet, TwentyDevicesUpdateTwiceThroughTheRealStackDespitePowerLoss) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Tag("v1.1.0", "Second release");
    sys.Start(/*gateways=*/1);
    std::vector<std::string> dirs;
    for (int i = 0; i < kDevices; ++i) {
        char id[16];
        std::snprintf(id, sizeof id, "cam-%03d", i);
        dirs.push_back(sys.Provision(id));
    }

    for (const auto& [tag, version, seed] :
         std::vector<std::tuple<std::string, std::string, std::string>>{{"v1.0.0", "1.0.0", "1"},
                                                                        {"v1.1.0", "1.1.0", "2"}}) {
        SCOPED_TRACE(tag);
        ASSERT_EQ(sys.Publish(tag).exit_code, 0);
        // The first device waits until the gateway offers the release (ledger confirmations),
        // so the fleet does not run against a gateway that has nothing yet.
        ASSERT_TRUE(sys.BootUntil(dirs[0], sys.gateway_url(), version));

        Json summary = Fleet(sys, seed);
        EXPECT_EQ(summary["devices"], kDevices);
        EXPECT_EQ(summary["done"], kDevices) << summary.dump(1);
        EXPECT_EQ(summary["failed"], 0);
        EXPECT_EQ(summary["versions"], Json({{version, kDevices}}));
        for (const auto& d : summary["results"]) {
            EXPECT_TRUE(d["bootable"].get<bool>()) << d.dump();
        }
        for (const auto& dir : dirs) EXPECT_EQ(sys.Version(dir), version) << dir;

        // Exactly one signed `installed` record per device for this version.
        ASSERT_TRUE(sys.WaitForLedger("type=update&state=installed&ver=" + version + "&limit=1000",
                                      kDevices));
        std::map<std::string, int> per_device;
        for (const auto& r :
             sys.Search("type=update&state=installed&ver=" + version + "&limit=1000")) {
            ++per_device[r["tx"]["recipient"].get<std::string>()];
        }
        EXPECT_EQ(per_device.size(), static_cast<std::size_t>(kDevices));
        for (const auto& [device, n] : per_device) EXPECT_EQ(n, 1) << device;
    }
}

}  // namespace
}  // namespace fwchain::test
