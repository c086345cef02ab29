// Pruned `ledger node` processes and gateway nodes on loopback (issue 11 item 4): a pruned node
// syncs from an archival miner, stays within its --prune-budget, says what it no longer holds,
// restarts from its pruned store and keeps validating; a fresh node syncing from a pruned and an
// archival peer gets the whole chain; a pruned gateway survives SIGKILL; gateways that mined
// apart converge. Every wait polls a condition with a deadline.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/ledger/fixture.hpp"

namespace fwchain::ledger {
namespace {

using test::Bin;
using test::WaitFor;

constexpr std::uint64_t kFinality = 4;
// Small enough that the chain below outgrows it many times, big enough for what must be kept.
constexpr std::uint64_t kBudget = 400 * 1000;
constexpr int kDevices = 12;

class PrunedNodeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ChainParams params = testing::TestParams();
        params.retarget_window = 1000;
        params.finality_depth = kFinality;
        GenesisSpec spec;
        spec.root = testing::MakeRootEnvelope(k_, NowSeconds() - 100);
        ASSERT_TRUE(WriteFileAtomic(dir_ / "root.json", spec.root.Serialize()));
        spec.miners.push_back(k_.miner.Public());
        // Two gateways that are miners from genesis (GatewaysMiningApart...).
        for (int i = 0; i < 2; ++i) {
            gateway_keys_.push_back(SigningKey::Generate());
            spec.miners.push_back(gateway_keys_.back().Public());
        }
        spec.params = params;
        spec.timestamp = NowSeconds() - 100;
        spec.message = "prune test genesis";
        genesis_ = MakeGenesisBlock(spec, k_.miner);
        confirmations_ = params.confirmations;
        ASSERT_TRUE(WriteFileAtomic(dir_ / "genesis.json", genesis_.ToJson().dump()));
        ASSERT_TRUE(k_.miner.Save(dir_ / "miner.key"));
        for (int i = 0; i < kDevices; ++i) devices_.push_back(SigningKey::Generate());
    }

    // Starts a node named `name` (data dir and log by name); returns its URL ("" if it died).
    std::string Start(const std::string& name, std::vector<std::string> extra) {
        return StartArgv(name, NodeArgv(name, std::move(extra)));
    }

    std::vector<std::string> NodeArgv(const std::string& name, std::vector<std::string> extra) {
        std::vector<std::string> args = {Bin("ledger"),
                                         "node",
                                         "--data",
                                         dir_ / ("data-" + name),
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--genesis",
                                         ToHex(genesis_.Hash()),
                                         "--genesis-file",
                                         dir_ / "genesis.json",
                                         "--sync-interval-ms",
                                         "200"};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    // Starts `args` as the process `name`; returns the first address it listens on.
    std::string StartArgv(const std::string& name, const std::vector<std::string>& args) {
        auto& p = procs_[name];
        p.reset();
        p = std::make_unique<test::Process>(
            args, dir_ / (name + "-" + std::to_string(++starts_) + ".log"));
        std::string url;
        const std::regex listening("listening on ([0-9.]+:[0-9]+)");
        WaitFor([&] {
            std::smatch m;
            const std::string log = p->Log();
            if (std::regex_search(log, m, listening)) url = "http://" + m[1].str();
            return !url.empty() || !p->Running();
        });
        urls_[name] = url;
        return url;
    }

    // GET as JSON, with the status (0 when the node did not answer).
    std::pair<int, Json> Get(const std::string& name, const std::string& path) {
        auto c = http::Client::For(urls_[name]);
        if (!c) return {0, Json()};
        auto r = c->Send("GET", path, nullptr, {}, 16 << 20);
        if (!r) return {0, Json()};
        auto j = ParseJson(r->body, 16 << 20);
        return {r->status, j ? *j : Json()};
    }

    std::string TipHash(const std::string& name) {
        return Get(name, "/v1/tip").second.value("hash", std::string());
    }

    bool Mined(const std::string& name, const std::string& id) {
        const Json t = Get(name, "/v1/tx/" + id).second;
        return t.is_object() && t.contains("height") && !t["height"].is_null();
    }

    Json Storage(const std::string& name) {
        return Get(name, "/v1/health").second.value("storage", Json::object());
    }

    // One block of a report from every device, mined by the archival miner; returns their ids.
    // Admits the kDevices devices through the archival node; returns once the last is mined.
    void AdmitDevices() {
        auto c = http::Client::For(urls_["archival"]);
        ASSERT_TRUE(c);
        std::vector<std::string> admits;
        for (int i = 0; i < kDevices; ++i) {
            const Tx admit = testing::AdmitTx(k_.admission, DeviceId(i), devices_[i], "device");
            ASSERT_TRUE(c->PostJson("/v1/tx", admit.ToJson()));
            admits.push_back(admit.Id());
        }
        ASSERT_TRUE(WaitFor([&] { return Mined("archival", admits.back()); })) << Logs();
    }

    std::vector<std::string> ReportRound() {
        std::vector<std::string> ids;
        auto c = http::Client::For(urls_["archival"]);
        EXPECT_TRUE(c);
        ++round_;
        for (int i = 0; i < kDevices; ++i) {
            const Tx tx = testing::UpdateTx(devices_[i], DeviceId(i), round_,
                                            round_ % 5 == 0 ? "failed" : "installed");
            auto r = c->PostJson("/v1/tx", tx.ToJson());
            EXPECT_TRUE(r) << r.error().ToString();
            ids.push_back(tx.Id());
        }
        EXPECT_TRUE(WaitFor([&] { return Mined("archival", ids.back()); })) << Logs();
        return ids;
    }

    static std::string DeviceId(int i) { return i == 0 ? "own-1" : "dev-" + std::to_string(i); }

    std::string Logs() {
        std::string all;
        for (auto& [name, p] : procs_) {
            if (p) all += "--- " + name + "\n" + p->Log();
        }
        return all;
    }

    // `gateway run` with its own node on `port` (no vendor: it is unreachable), with `extra`.
    std::vector<std::string> GatewayArgv(const std::string& name, int port,
                                         const std::vector<std::string>& extra) {
        std::vector<std::string> args = {Bin("gateway"),
                                         "run",
                                         "--data",
                                         dir_ / ("data-" + name),
                                         "--vendor",
                                         "http://127.0.0.1:1",
                                         "--root",
                                         dir_ / "root.json",
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--no-bittorrent",
                                         "--genesis",
                                         ToHex(genesis_.Hash()),
                                         "--genesis-file",
                                         dir_ / "genesis.json",
                                         "--ledger-listen",
                                         "127.0.0.1:" + std::to_string(port)};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    // Starts a gateway as `name`; true once its node answers.
    bool StartGateway(const std::string& name, int port, const std::vector<std::string>& extra) {
        StartArgv(name, GatewayArgv(name, port, extra));
        urls_[name] = "http://127.0.0.1:" + std::to_string(port);
        return WaitFor([&] { return Get(name, "/v1/tip").first == 200; });
    }

    testing::Keys k_;
    std::uint64_t confirmations_ = 0;  // a release's, after which miners stop
    std::vector<SigningKey> gateway_keys_;
    std::vector<SigningKey> devices_;
    test::TempDir dir_;
    Block genesis_;
    std::map<std::string, std::unique_ptr<test::Process>> procs_;
    std::map<std::string, std::string> urls_;
    int starts_ = 0;
    std::uint64_t round_ = 0;
};

TEST_F(PrunedNodeTest, StaysInBudgetRestartsAndPeersSyncTheFullChainAroundIt) {
    ASSERT_FALSE(Start("archival", {"--mine", "--key", dir_ / "miner.key"}).empty()) << Logs();
    const std::vector<std::string> pruned_args = {"--peer", urls_["archival"], "--prune-budget",
                                                  "400kB",  "--keep-device",   "own-1"};
    ASSERT_FALSE(Start("pruned", pruned_args).empty()) << Logs();
    EXPECT_EQ(Storage("pruned").value("prune_budget", std::uint64_t{0}), kBudget);
    EXPECT_TRUE(Get("pruned", "/v1/tip").second.value("pruned", false));
    EXPECT_FALSE(Get("archival", "/v1/tip").second.value("pruned", true));

    ASSERT_NO_FATAL_FAILURE(AdmitDevices());
    const std::vector<std::string> first = ReportRound();
    // Rounds until the pruned node had to prune well past the first reports.
    ASSERT_TRUE(WaitFor(
        [&] {
            ReportRound();
            return Storage("pruned").value("prune_height", std::uint64_t{0}) > 10u;
        },
        std::chrono::seconds(240)))
        << Logs();
    ASSERT_TRUE(WaitFor([&] {
        const Json st = Storage("pruned");
        return TipHash("pruned") == TipHash("archival") &&
               st.value("store_bytes", kBudget + 1) <= kBudget;
    })) << Storage("pruned").dump()
        << Logs();
    EXPECT_FALSE(Storage("pruned").value("over_budget", true));
    EXPECT_EQ(Storage("archival").value("prune_height", std::uint64_t{1}), 0u);

    // It says what it no longer holds, and keeps its own device's history.
    const std::string old_hash =
        Get("archival", "/v1/headers?from=2&count=1").second["headers"][0]["hash"];
    auto block = Get("pruned", "/v1/blocks/" + old_hash);
    EXPECT_EQ(block.first, 410);
    EXPECT_EQ(block.second.value("error", ""), "pruned");
    auto blocks = Get("pruned", "/v1/blocks?hashes=" + old_hash);
    EXPECT_EQ(blocks.first, 410);
    auto other = Get("pruned", "/v1/tx/" + first[1]);
    EXPECT_EQ(other.first, 404);
    EXPECT_EQ(other.second.value("error", ""), "pruned");
    EXPECT_TRUE(Mined("pruned", first[0])) << "own-1's report is kept";
    EXPECT_EQ(Get("archival", "/v1/blocks/" + old_hash).first, 200);

    // A restart from the pruned store: it loads, catches up and keeps pruning.
    procs_["pruned"]->Stop();
    for (int i = 0; i < 3; ++i) ReportRound();
    ASSERT_FALSE(Start("pruned", pruned_args).empty()) << Logs();
    const std::uint64_t pruned_before = Storage("pruned").value("prune_height", std::uint64_t{0});
    ASSERT_TRUE(WaitFor(
        [&] {
            ReportRound();
            return Storage("pruned").value("prune_height", std::uint64_t{0}) > pruned_before;
        },
        std::chrono::seconds(240)))
        << Logs();
    ASSERT_TRUE(WaitFor([&] {
        return TipHash("pruned") == TipHash("archival") &&
               Storage("pruned").value("store_bytes", kBudget + 1) <= kBudget;
    })) << Storage("pruned").dump()
        << Logs();

    // A fresh node whose first peer is the pruned one gets the whole chain from the other.
    ASSERT_FALSE(Start("fresh", {"--peer", urls_["pruned"], "--peer", urls_["archival"]}).empty())
        << Logs();
    ASSERT_TRUE(WaitFor([&] { return TipHash("fresh") == TipHash("archival"); })) << Logs();
    EXPECT_EQ(Get("fresh", "/v1/blocks/" + old_hash).first, 200);
    EXPECT_TRUE(Mined("fresh", first[1]));
    // Not holding old blocks is no offence: the pruned peer is not banned.
    const Json peers = Get("fresh", "/v1/peers").second;
    ASSERT_EQ(peers["peers"].size(), 2u) << peers.dump();
    for (const auto& peer : peers["peers"]) {
        EXPECT_EQ(peer.value("banned_until", std::int64_t{-1}), 0) << peers.dump();
    }
    // Search results of a pruned node say it is pruned.
    EXPECT_GT(Get("pruned", "/v1/search?limit=1").second.value("prune_height", std::uint64_t{0}),
              0u);
    EXPECT_FALSE(Get("archival", "/v1/search?limit=1").second.contains("prune_height"));
    // A node whose only peer is the pruned one cannot get the old blocks: it says so, does not
    // ban the peer, and syncs once an archival peer is known.
    ASSERT_FALSE(Start("lonely", {"--peer", urls_["pruned"]}).empty()) << Logs();
    ASSERT_TRUE(WaitFor([&] {
        return procs_["lonely"]->Log().find("is pruned below the blocks we lack") !=
               std::string::npos;
    })) << Logs();
    EXPECT_EQ(Get("lonely", "/v1/tip").second.value("height", std::uint64_t{1}), 0u);
    EXPECT_EQ(Get("lonely", "/v1/peers").second["peers"][0].value("banned_until", -1), 0);
    {
        auto c = http::Client::For(urls_["lonely"]);
        ASSERT_TRUE(c);
        ASSERT_TRUE(c->PostJson("/v1/peers", Json{{"url", urls_["archival"]}}));
    }
    ASSERT_TRUE(WaitFor([&] { return TipHash("lonely") == TipHash("archival"); })) << Logs();
    procs_["fresh"]->Stop();
    auto verify = test::Run({Bin("ledger"), "verify", "--data", dir_ / "data-fresh", "--genesis",
                             ToHex(genesis_.Hash())});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

    // The query tools say when a node is pruned.
    auto tip = test::Run({Bin("ledger"), "tip", "--node", urls_["pruned"]});
    EXPECT_NE(tip.out.find("pruned yes"), std::string::npos) << tip.out << tip.err;
    auto status =
        test::Run({Bin("ledger"), "status", "--node", urls_["pruned"], "--product", "cam"});
    EXPECT_NE(status.out.find("is a pruned node"), std::string::npos) << status.out << status.err;
    auto archival_status =
        test::Run({Bin("ledger"), "status", "--node", urls_["archival"], "--product", "cam"});
    EXPECT_EQ(archival_status.out.find("pruned"), std::string::npos) << archival_status.out;

    // `ledger verify` of the pruned store says it cannot re-verify the pruned history.
    procs_["pruned"]->Stop();
    auto pruned_verify = test::Run({Bin("ledger"), "verify", "--data", dir_ / "data-pruned"});
    EXPECT_EQ(pruned_verify.exit_code, 1);
    EXPECT_NE(pruned_verify.err.find("pruned"), std::string::npos) << pruned_verify.err;
}

// A gateway's own node pruned to a budget (an access point with little flash), killed with
// SIGKILL and started again on the same data: it loads its pruned store (nothing is synced again
// from the start), catches up, keeps validating the miner's new blocks and keeps pruning within
// its budget (issue 11, "a pruned gateway restarts, keeps validating, and stays within its
// budget"). The vendor is unreachable here: the gateway's node does not depend on it.
TEST_F(PrunedNodeTest, APrunedGatewayKilledRestartsFromItsStoreAndStaysInBudget) {
    ASSERT_FALSE(Start("archival", {"--mine", "--key", dir_ / "miner.key"}).empty()) << Logs();
    const int port = test::FreePort();
    const std::vector<std::string> pruned = {"--ledger-peer", urls_["archival"], "--prune-budget",
                                             "400kB"};
    auto start_gateway = [&] { return StartGateway("gateway", port, pruned); };
    ASSERT_TRUE(start_gateway()) << Logs();
    EXPECT_EQ(Storage("gateway").value("prune_budget", std::uint64_t{0}), kBudget);
    ASSERT_NO_FATAL_FAILURE(AdmitDevices());
    ASSERT_TRUE(WaitFor(
        [&] {
            ReportRound();
            return Storage("gateway").value("prune_height", std::uint64_t{0}) > 10u;
        },
        std::chrono::seconds(240)))
        << Logs();
    ASSERT_TRUE(WaitFor([&] {
        return TipHash("gateway") == TipHash("archival") &&
               Storage("gateway").value("store_bytes", kBudget + 1) <= kBudget;
    })) << Storage("gateway").dump()
        << Logs();
    const std::uint64_t pruned_at_kill = Storage("gateway").value("prune_height", std::uint64_t{0});
    const std::uint64_t height_at_kill =
        Get("gateway", "/v1/tip").second.value("height", std::uint64_t{0});

    // SIGKILL, whatever it was doing; the chain moves on while it is down.
    procs_["gateway"]->Kill(SIGKILL);
    for (int i = 0; i < 3; ++i) ReportRound();
    ASSERT_TRUE(start_gateway()) << Logs();
    // It started from its pruned store, not from an empty one: the tip it loaded (logged when
    // its node starts, before any sync) is the one it had when killed.
    std::smatch loaded;
    const std::string log = procs_["gateway"]->Log();
    ASSERT_TRUE(
        std::regex_search(log, loaded, std::regex("ledger node on \\S+ tip height ([0-9]+)")))
        << log;
    EXPECT_GE(std::stoull(loaded[1].str()), height_at_kill) << log;
    EXPECT_GT(height_at_kill, 10u);
    const Json restarted = Storage("gateway");
    EXPECT_TRUE(restarted.value("pruned", false)) << restarted.dump();
    EXPECT_GE(restarted.value("prune_height", std::uint64_t{0}), pruned_at_kill)
        << restarted.dump();
    // It validates the blocks mined while it was down and after, and keeps pruning.
    ASSERT_TRUE(WaitFor(
        [&] {
            ReportRound();
            return Storage("gateway").value("prune_height", std::uint64_t{0}) > pruned_at_kill;
        },
        std::chrono::seconds(240)))
        << Logs();
    const std::vector<std::string> last = ReportRound();
    ASSERT_TRUE(WaitFor([&] {
        return TipHash("gateway") == TipHash("archival") && Mined("gateway", last[0]) &&
               Storage("gateway").value("store_bytes", kBudget + 1) <= kBudget;
    })) << Storage("gateway").dump()
        << Logs();
    EXPECT_FALSE(Storage("gateway").value("over_budget", true));
}

// Gateways mining on two sides of a partition converge on the most-work chain when they
// reconnect, and what was confirmed only on the losing side (a release, a device report) is
// mined again on the winning chain (issue 11, "a partition of gateways heals"). Both gateways
// are miners from genesis; nothing else mines.
TEST_F(PrunedNodeTest, GatewaysMiningApartConvergeOnTheMostWorkChainWhenTheyReconnect) {
    for (int i = 0; i < 2; ++i) {
        const std::string name = "gw" + std::to_string(i);
        ASSERT_TRUE(MakeDirs(dir_ / ("data-" + name)));
        ASSERT_TRUE(gateway_keys_[static_cast<std::size_t>(i)].Save(
            dir_ / ("data-" + name + "/gateway.key")));
        ASSERT_TRUE(StartGateway(name, test::FreePort(), {"--mining-duty", "100"})) << Logs();
    }
    auto post = [&](const std::string& name, const Tx& tx) {
        auto c = http::Client::For(urls_[name]);
        return c && c->PostJson("/v1/tx", tx.ToJson());
    };
    // Side 0: a device admitted, a release and the device's report.
    const Tx admit_a = testing::AdmitTx(k_.admission, DeviceId(1), devices_[1], "device");
    const Tx release_a = testing::ReleaseTx(k_.release, "cam", "2.0.0", 2);
    ASSERT_TRUE(post("gw0", admit_a));
    ASSERT_TRUE(post("gw0", release_a));
    ASSERT_TRUE(WaitFor([&] { return Mined("gw0", admit_a.Id()) && Mined("gw0", release_a.Id()); }))
        << Logs();
    const Tx report_a = testing::UpdateTx(devices_[1], DeviceId(1), 1);
    ASSERT_TRUE(post("gw0", report_a));
    // Then side 0 stops mining: nothing pending, the release has its confirmations.
    ASSERT_TRUE(WaitFor([&] {
        return Mined("gw0", report_a.Id()) &&
               Get("gw0", "/v1/tx/" + release_a.Id())
                       .second.value("confirmations", std::uint64_t{0}) >= confirmations_;
    })) << Logs();
    const auto height_of = [&](const std::string& name) {
        return Get(name, "/v1/tip").second.value("height", std::uint64_t{0});
    };
    // Side 1: more blocks (one admission each), so more work with the same difficulty.
    int admitted = 2;
    while (height_of("gw1") < height_of("gw0") + 2) {
        const int d = admitted++;
        ASSERT_LT(d, kDevices);
        const Tx admit = testing::AdmitTx(k_.admission, DeviceId(d), devices_[d], "device");
        ASSERT_TRUE(post("gw1", admit));
        ASSERT_TRUE(WaitFor([&] { return Mined("gw1", admit.Id()); })) << Logs();
    }
    const std::uint64_t winner_height = height_of("gw1");
    const std::string winner_tip = TipHash("gw1");
    EXPECT_FALSE(Mined("gw1", release_a.Id())) << "the sides mined apart";
    EXPECT_NE(TipHash("gw0"), winner_tip);

    // Reconnect: one side learns the other (the announcement makes the link two-way).
    {
        auto c = http::Client::For(urls_["gw1"]);
        ASSERT_TRUE(c);
        ASSERT_TRUE(c->PostJson("/v1/peers", Json{{"url", urls_["gw0"]}}));
    }
    ASSERT_TRUE(WaitFor(
        [&] {
            return TipHash("gw0") == TipHash("gw1") && Mined("gw0", release_a.Id()) &&
                   Mined("gw1", release_a.Id()) && Mined("gw1", report_a.Id()) &&
                   Mined("gw1", admit_a.Id());
        },
        std::chrono::seconds(90)))
        << Logs();
    // The chain both hold is side 1's: its tip before the reconnection is in it.
    for (const std::string name : {"gw0", "gw1"}) {
        const Json h =
            Get(name, "/v1/headers?from=" + std::to_string(winner_height) + "&count=1").second;
        ASSERT_EQ(h["headers"].size(), 1u) << h.dump();
        EXPECT_EQ(h["headers"][0].value("hash", ""), winner_tip) << name;
    }
}

}  // namespace
}  // namespace fwchain::ledger
