// Reports are never lost (issue 10 item 3): a device whose state was restored from a backup has
// a report counter behind the one the ledger holds. Through the real gateway and ledger its
// report is refused as stale, the device resynchronises its counter, re-signs and delivers, and
// `ledger history` shows the report.
#include <gtest/gtest.h>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
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

// A device revoked after the gateway read the registry: the ledger refuses its next report, the
// gateway re-reads the registry, and refuses the one after by itself.
TEST(Reports, ARevokedDevicesReportsAreRefusedByTheGatewayOnceTheLedgerRefusedOne) {
    System sys;
    sys.Start(/*gateways=*/1);
    const std::string dir = sys.Provision("cam-001");
    auto key = SigningKey::Load(dir + "/device.key");
    ASSERT_TRUE(key) << key.error().ToString();
    auto report = [&](std::uint64_t nonce) {
        Tx tx;
        tx.type = txtype::kStatus;
        tx.recipient = "cam-001";
        tx.state = "up-to-date";
        tx.time = NowSeconds();
        tx.nonce = nonce;
        tx.body = UpdateTxBody{"cam", 0, 0, "gw", "", std::nullopt}.ToJson();
        tx.SignWith(*key);
        auto c = http::Client::For(sys.gateway_url());
        std::string body = Canonical(tx.ToJson());
        auto r = c->Send("POST", "/v1/report", &body, {}, 1 << 20);
        return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
    };
    EXPECT_EQ(report(1).first, 202);  // the gateway now holds the device in its registry copy

    RunResult revoke = test::Run({Bin("vendor-server"), "revoke", "--data", sys.vendor_dir(),
                                  "--device", "cam-001", "--ledger", sys.ledger_url()});
    ASSERT_EQ(revoke.exit_code, 0) << revoke.out << revoke.err;
    auto ledger = http::Client::For(sys.ledger_url());
    ASSERT_TRUE(WaitFor([&] {
        auto reg = ledger->GetJson("/v1/registry?role=device");
        if (!reg) return false;
        for (const auto& k : (*reg)["keys"]) {
            if (k.value("subject", "") == "cam-001") return k.value("revoked", false);
        }
        return false;
    }));
    // The ledger refuses it (the gateway's copy still says admitted)...
    const auto first = report(2);
    EXPECT_EQ(first.first, 403) << first.second;
    // ...and the gateway re-reads the registry (at most once a second) and from then on refuses
    // the device's reports itself.
    std::uint64_t nonce = 3;
    std::pair<int, std::string> last;
    EXPECT_TRUE(WaitFor(
        [&] {
            last = report(nonce++);
            return last.first == 403 && last.second.find("\"revoked\"") != std::string::npos;
        },
        std::chrono::seconds(20)))
        << last.first << " " << last.second;
}

}  // namespace
}  // namespace fwchain::test
