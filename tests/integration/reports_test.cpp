// Reports are never lost (issue 10 item 3): a device whose state was restored from a backup has
// a report counter behind the one the ledger holds. Through the real gateway and ledger its
// report is refused as stale, the device resynchronises its counter, re-signs and delivers, and
// `ledger history` shows the report.
#include <gtest/gtest.h>

#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

std::size_t CountInstalled(const Json& history, const std::string& ver) {
    std::size_t n = 0;
    for (const auto& r : history) {
        if (r["tx"].value("state", "") == "installed" && r["tx"].value("ver", "") == ver) ++n;
    }
    return n;
}

TEST(Reports, ADeviceRestoredFromABackupStillGetsItsReportsIntoTheLedger) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Tag("v1.1.0", "Second release");
    sys.Start();
    const std::string dev = sys.Provision("cam-backup");
    // The backup: the whole state dir (slots, counter, queue) as provisioned.
    const std::string backup = sys.dir() + "/backup";
    ASSERT_EQ(Shell("cp -a '" + dev + "' '" + backup + "'").exit_code, 0);

    ASSERT_EQ(sys.Publish("v1.0.0").exit_code, 0);
    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(), "1.0.0"));
    ASSERT_EQ(sys.Publish("v1.1.0").exit_code, 0);
    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(), "1.1.0"));
    ASSERT_TRUE(sys.WaitForLedger("device=cam-backup&type=update&state=installed", 2));
    const std::uint64_t counter_before_restore =
        sys.Status(dev).value("report_counter", std::uint64_t{0});

    // Restored: the device runs its factory image again and its counter is behind the
    // ledger's. Its next report ("installed 1.1.0" from 0.0.0, with counter 1) differs from
    // every report the ledger holds, so only a resynchronised counter gets it in.
    ASSERT_EQ(Shell("rm -rf '" + dev + "' && cp -a '" + backup + "' '" + dev + "'").exit_code, 0);
    ASSERT_LT(sys.Status(dev).value("report_counter", std::uint64_t{0}), counter_before_restore);
    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(), "1.1.0"));

    if (!sys.WaitForLedger("device=cam-backup&type=update&state=installed", 3)) {
        FAIL() << "the report never reached the ledger; status " << sys.Status(dev).dump()
               << "\nledger: " << sys.Search("device=cam-backup").dump();
    }
    auto history = fwchain::test::Run(
        {Bin("ledger"), "history", "--node", sys.ledger_url(), "--device", "cam-backup", "--json"});
    ASSERT_EQ(history.exit_code, 0) << history.err;
    auto j = ParseJson(history.out);
    ASSERT_TRUE(j) << history.out;
    const Json& results = j->is_array() ? *j : (*j)["results"];
    EXPECT_EQ(CountInstalled(results, "1.0.0"), 1u) << history.out;
    EXPECT_EQ(CountInstalled(results, "1.1.0"), 2u) << history.out;
    Json status = sys.Status(dev);
    EXPECT_EQ(status.value("queued_reports", -1), 0) << status.dump();
    EXPECT_GE(status["report_resync"].value("count", 0), 1) << status.dump();
    EXPECT_GT(status.value("report_counter", std::uint64_t{0}), counter_before_restore);
    auto text = fwchain::test::Run({Bin("device-agent"), "status", "--state", dev});
    EXPECT_NE(text.out.find("resync"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace fwchain::test
