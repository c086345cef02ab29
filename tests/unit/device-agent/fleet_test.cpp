// The fleet simulator in-process against the fake gateway: every device converges on a bootable
// slot with the offered version despite injected power losses, each reporting exactly once.
#include "device-agent/fleet.hpp"

#include <gtest/gtest.h>

#include <set>

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

class FleetTest : public ::testing::Test {
  protected:
    void SetUp() override {
        root_ = tmp_.path() + "/fleet";
        for (int i = 0; i < kDevices; ++i) {
            char id[32];
            std::snprintf(id, sizeof id, "dev-%04d", i);
            vendor_.Provision(root_ + "/" + id, id);
        }
        ReleaseSpec spec;
        spec.sequence = 1;
        spec.version = "1.1.0";
        spec.sha256 = image_.sha256;
        spec.size = image_.bytes.size();
        gw_.SetImage(image_.sha256, image_.bytes);
        const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
        gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), listed);
        gw_.SetOnlyNewer(true);
    }

    static constexpr int kDevices = 12;
    fwchain::test::TempDir tmp_;
    std::string root_;
    TestVendor vendor_;
    FakeGateway gw_;
    Image image_ = MakeImage(100 * 1024 + 1, 5);
};

TEST_F(FleetTest, EveryDeviceConvergesDespitePowerLoss) {
    FleetOptions o;
    o.state_root = root_;
    o.gateway_url = gw_.Url();
    o.threads = 4;
    o.power_loss_rate = 0.5;
    o.seed = 7;
    o.fetch.max_attempts = 2;
    o.fetch.backoff_initial = std::chrono::milliseconds(1);
    auto s = RunFleet(o);
    ASSERT_TRUE(s) << s.error().ToString();
    EXPECT_EQ(s->devices.size(), static_cast<std::size_t>(kDevices));
    EXPECT_EQ(s->done, static_cast<std::size_t>(kDevices)) << s->ToJson().dump(1);
    EXPECT_EQ(s->failed, 0u);
    EXPECT_GT(s->power_losses, 0u);
    EXPECT_EQ(s->versions.size(), 1u);
    EXPECT_EQ(s->versions.begin()->first, "1.1.0");
    for (const auto& d : s->devices) {
        EXPECT_TRUE(d.bootable) << d.device_id;
        EXPECT_EQ(d.sequence, 1u) << d.device_id;
    }
    // One `installed` report per device, none twice.
    std::set<std::string> reported;
    for (const auto& tx : gw_.Reports()) {
        if (tx.state != "installed") continue;
        EXPECT_TRUE(reported.insert(tx.recipient).second) << tx.recipient << " reported twice";
    }
    EXPECT_EQ(reported.size(), static_cast<std::size_t>(kDevices));
}

TEST_F(FleetTest, TooFewDevicesIsAnError) {
    FleetOptions o;
    o.state_root = root_;
    o.gateway_url = gw_.Url();
    o.count = kDevices + 1;
    auto s = RunFleet(o);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().reason, "state-root");
}

TEST_F(FleetTest, AnUnreachableGatewayFailsEveryDeviceButKeepsThemBootable) {
    FleetOptions o;
    o.state_root = root_;
    o.gateway_url = "http://127.0.0.1:1";
    o.count = 3;
    o.max_boots = 2;
    auto s = RunFleet(o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->failed, 3u);
    for (const auto& d : s->devices) {
        EXPECT_EQ(d.reason, "gateway-unreachable");
        EXPECT_TRUE(d.bootable);
        EXPECT_EQ(d.version, "0.0.0");
    }
}

}  // namespace
}  // namespace fwchain::device
