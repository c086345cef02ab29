// Rollouts decided from the ledger's evidence, end to end: a fleet of 100 simulated devices
// (`device-agent fleet`), real gateways, a real ledger and vendor on loopback. Stage times run on
// a clock file the gateways read (`--rollout-clock-file`), so a test moves a rollout through its
// stages without waiting for them.
#include "common/core/rollout.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

constexpr int kDevices = 100;

std::vector<std::string> DeviceIds() {
    std::vector<std::string> ids;
    for (int i = 0; i < kDevices; ++i) {
        char id[16];
        std::snprintf(id, sizeof id, "cam-%03d", i);
        ids.push_back(id);
    }
    return ids;
}

// Every device, booting until up to date (or out of boots); device id -> version.
std::map<std::string, std::string> RunFleet(System& sys, const std::string& gateway,
                                            const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {Bin("device-agent"),
                                     "fleet",
                                     "--gateway",
                                     gateway,
                                     "--state-root",
                                     sys.dir() + "/devices",
                                     "--threads",
                                     "4",
                                     "--max-boots",
                                     "4",
                                     "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult r = Run(argv, std::chrono::seconds(300));
    auto j = ParseJson(r.out, 8 << 20);
    EXPECT_TRUE(j) << r.out << r.err;
    std::map<std::string, std::string> out;
    if (!j) return out;
    for (const auto& d : (*j)["results"]) out[d.value("device_id", "")] = d.value("version", "");
    return out;
}

std::set<std::string> Running(const std::map<std::string, std::string>& fleet,
                              const std::string& version) {
    std::set<std::string> out;
    for (const auto& [id, v] : fleet) {
        if (v == version) out.insert(id);
    }
    return out;
}

// The devices a stage of `percent` holds, computed here from the published rule.
std::set<std::string> StageMembers(std::uint32_t percent, std::uint64_t sequence) {
    std::set<std::string> out;
    for (const auto& id : DeviceIds()) {
        if (InRollout(RolloutBucket(id, "cam", sequence), percent)) out.insert(id);
    }
    return out;
}

std::string PublishRelease(System& sys, const std::string& tag,
                           const std::vector<std::string>& extra) {
    std::vector<std::string> args = extra;
    args.push_back("--json");
    RunResult r = sys.Publish(tag, "cam", "rev-b", args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = ParseJson(r.out, 1 << 20);
    return j ? j->value("tx_id", "") : "";
}

// Waits until gateway `g` decided `version`'s rollout as `state` at `percent`.
bool WaitForGateway(System& sys, int g, const std::string& version, const std::string& state,
                    std::uint32_t percent) {
    return WaitFor(
        [&] {
            for (const auto& r : sys.GatewayHealth(g).value("rollouts", Json::array())) {
                if (r.value("version", "") == version && r.value("state", "") == state &&
                    r.value("percent", 0u) == percent) {
                    return true;
                }
            }
            return false;
        },
        std::chrono::seconds(90));
}

Json LedgerRollout(System& sys, const std::string& version) {
    auto c = http::Client::For(sys.ledger_url());
    if (!c) return Json::object();
    auto j = c->GetJson("/v1/rollouts?product=cam", 8 << 20);
    if (!j) return Json::object();
    for (const auto& r : (*j)["releases"]) {
        if (r.value("version", "") == version) return r;
    }
    return Json::object();
}

void SetClock(const std::string& file, std::int64_t t) {
    ASSERT_TRUE(WriteFileAtomic(file, std::to_string(t)));
}

RunResult Ledger(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {Bin("ledger")};
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv);
}

// The manifest sequence a gateway offers this device (0 = none).
std::uint64_t Offered(System& sys, int g, const std::string& device_id) {
    auto c = http::Client::For(sys.gateway_url(g));
    if (!c) return 0;
    auto a = c->PostJson("/v1/check", Json{{"device_id", device_id},
                                           {"product", "cam"},
                                           {"hardware", "rev-b"},
                                           {"sequence", 0},
                                           {"root_version", 1}});
    if (!a || !(*a)["manifest"].is_object()) return 0;
    return (*a)["manifest"]["signed"].value("sequence", std::uint64_t{0});
}

TEST(Rollout, StagesGrowByTheHashAndBothGatewaysAgreeAndPauseHoldsThem) {
    System sys;
    const std::string clock = sys.dir() + "/rollout-clock";
    const std::int64_t t0 = NowSeconds();
    SetClock(clock, t0);
    sys.Tag("v1.0.0", "Staged release");
    sys.Start(2, {}, {"--rollout-interval", "1", "--rollout-clock-file", clock});
    sys.ProvisionMany(DeviceIds());

    const std::string tx = PublishRelease(
        sys, "v1.0.0",
        {"--stage", "10%@" + std::to_string(t0), "--stage", "50%@" + std::to_string(t0 + 3600),
         "--stage", "100%@" + std::to_string(t0 + 7200)});
    ASSERT_EQ(tx.size(), 64u);
    ASSERT_TRUE(WaitForGateway(sys, 0, "1.0.0", "active", 10));
    ASSERT_TRUE(WaitForGateway(sys, 1, "1.0.0", "active", 10));

    const std::set<std::string> first = StageMembers(10, 1);
    ASSERT_FALSE(first.empty());
    ASSERT_LT(first.size(), 30u);
    // The same answer from both gateways, device by device.
    for (const auto& id : DeviceIds()) {
        const std::uint64_t want = first.count(id) ? 1 : 0;
        EXPECT_EQ(Offered(sys, 0, id), want) << id;
        EXPECT_EQ(Offered(sys, 1, id), want) << id;
    }
    // At 10 %, exactly the hash-chosen devices install.
    EXPECT_EQ(Running(RunFleet(sys, sys.gateway_url(0)), "1.0.0"), first);

    // The next stage's time: the set grows to 50 % and holds the first stage's devices.
    SetClock(clock, t0 + 3600);
    ASSERT_TRUE(WaitForGateway(sys, 1, "1.0.0", "active", 50));
    const std::set<std::string> second = StageMembers(50, 1);
    for (const auto& id : first) EXPECT_TRUE(second.count(id)) << id;
    EXPECT_EQ(Running(RunFleet(sys, sys.gateway_url(1)), "1.0.0"), second);

    // Paused by the release key: the 100 % stage's time passes and nobody new installs.
    RunResult pause = Ledger({"rollout", "pause", "--key", sys.vendor_dir() + "/keys/release.key",
                              "--release", tx, "--node", sys.ledger_url()});
    ASSERT_EQ(pause.exit_code, 0) << pause.err;
    ASSERT_TRUE(WaitForGateway(sys, 0, "1.0.0", "paused", 0));
    SetClock(clock, t0 + 7200);
    EXPECT_EQ(Running(RunFleet(sys, sys.gateway_url(0)), "1.0.0"), second);
    EXPECT_EQ(LedgerRollout(sys, "1.0.0").value("state", ""), "paused");

    // Resumed: the whole fleet.
    RunResult resume = Ledger({"rollout", "resume", "--key", sys.vendor_dir() + "/keys/release.key",
                               "--release", tx, "--node", sys.ledger_url()});
    ASSERT_EQ(resume.exit_code, 0) << resume.err;
    ASSERT_TRUE(WaitForGateway(sys, 0, "1.0.0", "complete", 100));
    EXPECT_EQ(Running(RunFleet(sys, sys.gateway_url(0)), "1.0.0").size(),
              static_cast<std::size_t>(kDevices));

    // The ledger's view: every device's signed `installed` report counted.
    ASSERT_TRUE(WaitFor(
        [&] { return LedgerRollout(sys, "1.0.0")["devices"].value("installed", 0) == kDevices; }));
    // `ledger status` shows it too; the node's stage comes from its own clock (still the first
    // stage: only the gateways read the test's clock file).
    RunResult status = Ledger({"status", "--node", sys.ledger_url(), "--product", "cam", "--json"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    auto report = ParseJson(status.out, 1 << 20);
    ASSERT_TRUE(report) << status.out;
    ASSERT_EQ((*report)["rollouts"].size(), 1u) << status.out;
    const Json& row = (*report)["rollouts"][0];
    EXPECT_EQ(row.value("state", ""), "active");
    EXPECT_EQ(row["stage"].value("index", -1), 0);
    EXPECT_EQ(row["devices"].value("installed", 0), kDevices);
    EXPECT_EQ(row["devices"].value("in_stage", 0), static_cast<int>(first.size()));
    EXPECT_EQ(row["controls"].size(), 2u);
}

TEST(Rollout, ApprovalsGateTheReleaseAndFailuresHaltIt) {
    System sys;
    sys.Tag("v1.0.0", "Needs an approval");
    sys.Tag("v2.0.0", "Breaks the health check");
    sys.Tag("v3.0.0", "Aborted");
    sys.Tag("v4.0.0", "Supersedes it");
    sys.Start(1, {}, {"--rollout-interval", "1"});
    const std::vector<std::string> dirs = sys.ProvisionMany(DeviceIds());
    // cam-000 checks the ledger itself: the release tx and its approvals in its proof.
    auto device = LoadJsonFile(dirs[0] + "/device.json", 1 << 16);
    ASSERT_TRUE(device);
    (*device)["require_ledger_proof"] = true;
    (*device)["ledger_min_miners"] = 1;  // this chain has one miner, the vendor's node
    (*device)["ledger_finality_depth"] = 1;
    ASSERT_TRUE(WriteFileAtomic(dirs[0] + "/device.json", device->dump()));

    // An approver key of QA, listed in root v2.
    const std::string approver_key = sys.dir() + "/approver.key";
    RunResult keygen = Ledger({"keygen", "--out", approver_key});
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
    std::string approver = keygen.out.substr(0, 64);
    RunResult add = test::Run({Bin("vendor-server"), "add-key", "--data", sys.vendor_dir(),
                               "--role", "approver", "--public", approver});
    ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
    ASSERT_TRUE(sys.WaitForLedger("type=root", 1));

    // Waiting for its approval, the release reaches nobody.
    const std::string tx = PublishRelease(sys, "v1.0.0", {"--min-approvals", "1"});
    ASSERT_EQ(tx.size(), 64u);
    ASSERT_TRUE(WaitForGateway(sys, 0, "1.0.0", "waiting-approvals", 0));
    EXPECT_TRUE(Running(RunFleet(sys, sys.gateway_url()), "1.0.0").empty());

    // Approved offline with the key file, submitted through the node.
    const std::string signed_tx = sys.dir() + "/approve.json";
    RunResult approve =
        Ledger({"approve", "--key", approver_key, "--release", tx, "--out", signed_tx});
    ASSERT_EQ(approve.exit_code, 0) << approve.err;
    RunResult submit = Ledger({"submit", "--node", sys.ledger_url(), "--tx", signed_tx});
    ASSERT_EQ(submit.exit_code, 0) << submit.err;
    ASSERT_TRUE(WaitForGateway(sys, 0, "1.0.0", "complete", 100));
    EXPECT_EQ(Running(RunFleet(sys, sys.gateway_url()), "1.0.0").size(),
              static_cast<std::size_t>(kDevices));
    EXPECT_EQ(LedgerRollout(sys, "1.0.0")["approvals"].value("have", 0), 1);
    EXPECT_TRUE(FileExists(dirs[0] + "/ledger_checkpoint.json"));

    // 2.0.0 fails its health check on every device: after 5 outcomes above 50 % failures the
    // ledger halts it, and no device installs it afterwards.
    ASSERT_EQ(
        PublishRelease(sys, "v2.0.0", {"--max-failure-rate", "50", "--min-reports", "5"}).size(),
        64u);
    ASSERT_TRUE(WaitForGateway(sys, 0, "2.0.0", "complete", 100));
    const std::vector<std::string> broken = {"--health-check",
                                             "test \"$FWCHAIN_VERSION\" != 2.0.0"};
    std::vector<std::string> first_ten = broken;
    first_ten.insert(first_ten.end(), {"--count", "10"});
    auto early = RunFleet(sys, sys.gateway_url(), first_ten);
    EXPECT_TRUE(Running(early, "2.0.0").empty());
    ASSERT_TRUE(WaitFor([&] { return LedgerRollout(sys, "2.0.0").value("state", "") == "halted"; },
                        std::chrono::seconds(90)));
    const Json halted = LedgerRollout(sys, "2.0.0");
    EXPECT_GE(halted["devices"].value("rolled_back", 0), 5) << halted.dump();
    EXPECT_NE(halted.value("reason", "").find("rolled back"), std::string::npos);
    ASSERT_TRUE(WaitForGateway(sys, 0, "2.0.0", "halted", 0));

    auto after = RunFleet(sys, sys.gateway_url(), broken);
    EXPECT_TRUE(Running(after, "2.0.0").empty());
    EXPECT_EQ(Running(after, "1.0.0").size(), static_cast<std::size_t>(kDevices));
    EXPECT_TRUE(sys.Search("type=update&state=installed&ver=2.0.0").empty());
    // Aborted while it waits for its approval: the approval arrives, the abort wins, and the
    // release is never offered; the next release supersedes it.
    const std::string aborted = PublishRelease(sys, "v3.0.0", {"--min-approvals", "1"});
    ASSERT_EQ(aborted.size(), 64u);
    ASSERT_TRUE(WaitForGateway(sys, 0, "3.0.0", "waiting-approvals", 0));
    RunResult abort = Ledger({"rollout", "abort", "--key", approver_key, "--release", aborted,
                              "--node", sys.ledger_url()});
    ASSERT_EQ(abort.exit_code, 0) << abort.err;
    ASSERT_EQ(
        Ledger({"approve", "--key", approver_key, "--release", aborted, "--node", sys.ledger_url()})
            .exit_code,
        0);
    ASSERT_TRUE(WaitFor([&] {
        const Json r = LedgerRollout(sys, "3.0.0");
        return r.value("state", "") == "aborted" && r["approvals"].value("have", 0) == 1;
    }));
    ASSERT_TRUE(WaitForGateway(sys, 0, "3.0.0", "aborted", 0));
    EXPECT_TRUE(Running(RunFleet(sys, sys.gateway_url(), {"--count", "10"}), "3.0.0").empty());
    ASSERT_EQ(PublishRelease(sys, "v4.0.0", {}).size(), 64u);
    ASSERT_TRUE(WaitForGateway(sys, 0, "4.0.0", "complete", 100));
    EXPECT_EQ(Running(RunFleet(sys, sys.gateway_url()), "4.0.0").size(),
              static_cast<std::size_t>(kDevices));
    EXPECT_TRUE(sys.Search("type=update&state=installed&ver=3.0.0").empty());

    // Devices outside the first ten never even tried 2.0.0.
    for (const auto& r : sys.Search("type=update&state=rolled-back&ver=2.0.0&limit=1000")) {
        const std::string id = r["tx"].value("recipient", "");
        EXPECT_LT(id, "cam-010") << id;
    }
}

}  // namespace
}  // namespace fwchain::test
