// Several real `ledger node` processes on loopback (DESIGN.md §5, issue 3 item 7): convergence,
// a partition that heals, forged blocks, SIGKILL while mining. Low difficulty; every wait polls
// with a deadline.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

#include "common/adapters/http.hpp"
#include "ledger/primitives/merkle.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/ledger/fixture.hpp"

namespace fwchain::ledger {
namespace {

using test::Bin;
using test::WaitFor;

constexpr int kNodes = 3;

class MultiNodeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ChainParams params = testing::TestParams();
        params.retarget_window = 32;  // keep bits at 4 for the short chains here
        GenesisSpec spec;
        spec.root = testing::MakeRootEnvelope(k_, NowSeconds() - 100);
        for (auto& m : miners_) spec.miners.push_back(m.Public());
        spec.params = params;
        spec.timestamp = NowSeconds() - 100;
        spec.message = "multinode test genesis";
        genesis_ = MakeGenesisBlock(spec, miners_[0]);
        ASSERT_TRUE(WriteFileAtomic(dir_ / "genesis.json", genesis_.ToJson().dump()));
        for (int i = 0; i < kNodes; ++i) {
            ASSERT_TRUE(miners_[i].Save(dir_ / ("miner" + std::to_string(i) + ".key")));
        }
    }

    // Starts node i (mining with its own key) with the given peers; returns its URL.
    std::string Start(int i, const std::vector<std::string>& peers, bool mine = true,
                      const std::string& key_file = "") {
        std::vector<std::string> args = {Bin("ledger"),
                                         "node",
                                         "--data",
                                         dir_ / ("data" + std::to_string(i)),
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--genesis",
                                         ToHex(genesis_.Hash()),
                                         "--genesis-file",
                                         dir_ / "genesis.json",
                                         "--sync-interval-ms",
                                         "300",
                                         "--ban-seconds",
                                         "2"};
        if (mine) {
            args.insert(
                args.end(),
                {"--mine", "--key",
                 key_file.empty() ? dir_ / ("miner" + std::to_string(i) + ".key") : key_file});
        }
        for (const auto& p : peers) args.insert(args.end(), {"--peer", p});
        procs_[i] = std::make_unique<test::Process>(
            args, dir_ / ("node" + std::to_string(i) + "-" + std::to_string(++starts_) + ".log"));
        std::string url;
        const std::regex listening("listening on ([0-9.]+:[0-9]+)");
        WaitFor([&] {
            std::smatch m;
            const std::string log = procs_[i]->Log();
            if (std::regex_search(log, m, listening)) url = "http://" + m[1].str();
            return !url.empty() || !procs_[i]->Running();
        });
        urls_[i] = url;
        return url;
    }

    Json Get(int i, const std::string& path) {
        auto c = http::Client::For(urls_[i]);
        if (!c) return Json();
        auto j = c->GetJson(path);
        return j ? *j : Json();
    }

    Expected<Json> Post(int i, const std::string& path, const Json& body) {
        FW_ASSIGN(http::Client c, http::Client::For(urls_[i]));
        return c.PostJson(path, body);
    }

    std::string TipHash(int i) { return Get(i, "/v1/tip").value("hash", std::string()); }

    // True when every listed node has the same tip.
    bool SameTip(const std::vector<int>& nodes) {
        const std::string first = TipHash(nodes[0]);
        if (first.empty()) return false;
        for (int n : nodes) {
            if (TipHash(n) != first) return false;
        }
        return true;
    }

    // True when tx `id` is in a block of node i's main chain.
    bool Mined(int i, const std::string& id) {
        const Json t = Get(i, "/v1/tx/" + id);
        return t.is_object() && t.contains("height") && !t["height"].is_null();
    }

    // The miner of node i's block at `height`.
    std::string MinerAt(int i, std::uint64_t height) {
        const Json h = Get(i, "/v1/headers?from=" + std::to_string(height) + "&count=1");
        if (!h.is_object() || h["headers"].empty()) return "";
        auto bytes = FromHex(h["headers"][0].value("header", std::string()));
        if (!bytes || bytes->size() != kHeaderSize) return "";
        return ToHex(BlockHeader::Deserialize(bytes->data()).miner);
    }

    // Node i's `fwchain_ledger_mining` gauge.
    bool MiningMetric(int i) {
        auto c = http::Client::For(urls_[i]);
        if (!c) return false;
        auto r = c->Send("GET", "/metrics", nullptr, {}, 1 << 20);
        return r && r->body.find("\nfwchain_ledger_mining 1\n") != std::string::npos;
    }

    std::string Logs() {
        std::string all;
        for (int i = 0; i < kNodes; ++i) {
            if (procs_[i]) all += "--- node " + std::to_string(i) + "\n" + procs_[i]->Log();
        }
        return all;
    }

    testing::Keys k_;
    SigningKey miners_[kNodes] = {SigningKey::Generate(), SigningKey::Generate(),
                                  SigningKey::Generate()};
    test::TempDir dir_;
    Block genesis_;
    std::unique_ptr<test::Process> procs_[kNodes];
    std::string urls_[kNodes];
    int starts_ = 0;
};

TEST_F(MultiNodeTest, NodesConvergeAndEveryTxReachesEveryNode) {
    // A line: 0 <- 1 <- 2 (each names the previous one; announcements link them both ways).
    ASSERT_FALSE(Start(0, {}).empty()) << Logs();
    ASSERT_FALSE(Start(1, {urls_[0]}).empty()) << Logs();
    ASSERT_FALSE(Start(2, {urls_[1]}).empty()) << Logs();

    std::vector<std::string> ids;
    for (int i = 0; i < kNodes; ++i) {
        const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0." + std::to_string(i),
                                              static_cast<std::uint64_t>(i + 1));
        auto r = Post(i, "/v1/tx", release.ToJson());
        ASSERT_TRUE(r) << r.error().ToString();
        ids.push_back(release.Id());
    }
    ASSERT_TRUE(WaitFor(
        [&] {
            if (!SameTip({0, 1, 2})) return false;
            for (int n = 0; n < kNodes; ++n) {
                for (const auto& id : ids) {
                    if (!Mined(n, id)) return false;
                }
            }
            return true;
        },
        std::chrono::seconds(60)))
        << Logs();
    // Node 0 learnt about node 2 only through... nothing: it must not need it. But 1 knows both.
    const Json peers1 = Get(1, "/v1/peers");
    EXPECT_EQ(peers1["peers"].size(), 2u) << peers1.dump();
}

TEST_F(MultiNodeTest, PartitionHealsToOneTipWithoutLosingTxs) {
    // Group A = {0, 1}, group B = {2}: they do not know each other yet.
    ASSERT_FALSE(Start(0, {}).empty()) << Logs();
    ASSERT_FALSE(Start(1, {urls_[0]}).empty()) << Logs();
    ASSERT_FALSE(Start(2, {}).empty()) << Logs();

    // Each side records different txs and mines them apart.
    const Tx admit_a = testing::AdmitTx(k_.admission, "dev-a", k_.device, "device");
    const Tx release_a = testing::ReleaseTx(k_.release, "cam", "2.0.0", 2);
    const Tx admit_b = testing::AdmitTx(k_.admission, "dev-b", k_.device2, "device");
    const Tx release_b = testing::ReleaseTx(k_.release, "cam", "2.0.1", 3);
    ASSERT_TRUE(Post(0, "/v1/tx", admit_a.ToJson()));
    ASSERT_TRUE(Post(1, "/v1/tx", release_a.ToJson()));
    ASSERT_TRUE(Post(2, "/v1/tx", admit_b.ToJson()));
    ASSERT_TRUE(Post(2, "/v1/tx", release_b.ToJson()));
    ASSERT_TRUE(WaitFor([&] {
        return SameTip({0, 1}) && Mined(0, admit_a.Id()) && Mined(0, release_a.Id()) &&
               Mined(2, admit_b.Id()) && Mined(2, release_b.Id());
    })) << Logs();
    // The device of side A reports on side A only.
    const Tx report = testing::UpdateTx(k_.device, "dev-a", 1);
    ASSERT_TRUE(Post(1, "/v1/tx", report.ToJson()));
    ASSERT_TRUE(WaitFor([&] { return SameTip({0, 1}) && Mined(0, report.Id()); })) << Logs();
    EXPECT_NE(TipHash(0), TipHash(2)) << "the groups mined apart";
    EXPECT_FALSE(Mined(2, admit_a.Id()));
    EXPECT_FALSE(Mined(0, admit_b.Id()));

    // Heal: link one node of each side; the announcement makes the link two-way.
    auto linked = Post(2, "/v1/peers", Json{{"url", urls_[0]}});
    ASSERT_TRUE(linked) << linked.error().ToString();
    const std::vector<std::string> all = {admit_a.Id(), release_a.Id(), admit_b.Id(),
                                          release_b.Id(), report.Id()};
    ASSERT_TRUE(WaitFor(
        [&] {
            if (!SameTip({0, 1, 2})) return false;
            for (int n = 0; n < kNodes; ++n) {
                for (const auto& id : all) {
                    if (!Mined(n, id)) return false;
                }
            }
            return true;
        },
        std::chrono::seconds(90)))
        << Logs();
    // One registry everywhere: both devices admitted, the report's counter recorded.
    for (int n = 0; n < kNodes; ++n) {
        const Json reg = Get(n, "/v1/registry?role=device");
        EXPECT_EQ(reg["keys"].size(), 2u) << reg.dump();
    }
}

TEST_F(MultiNodeTest, ForgedBlocksAreRefusedByEveryNode) {
    ASSERT_FALSE(Start(0, {}, false).empty()) << Logs();
    ASSERT_FALSE(Start(1, {urls_[0]}, false).empty()) << Logs();
    ASSERT_FALSE(Start(2, {urls_[1]}, false).empty()) << Logs();
    const std::string tip_before = TipHash(0);
    ASSERT_TRUE(WaitFor([&] { return SameTip({0, 1, 2}); })) << Logs();

    // A well-formed child of the genesis that each forgery breaks in one way.
    auto child = [&](std::vector<Tx> txs, const SigningKey& miner) {
        Block b;
        b.header.version = 1;
        b.header.bits = genesis_.header.bits;
        b.header.height = 1;
        b.header.timestamp = NowSeconds();
        b.header.prev_hash = genesis_.Hash();
        b.header.miner = miner.Public();
        b.txs = std::move(txs);
        b.header.merkle_root = MerkleRootOfTxs(b.txs);
        return b;
    };
    auto sign = [](Block& b, const SigningKey& key) {
        const Hash256 h = b.Hash();
        b.miner_sig = key.Sign(h.data(), h.size());
    };
    const Tx release = testing::ReleaseTx(k_.release, "cam", "9.9.9", 9);
    std::vector<std::pair<std::string, Block>> forged;
    {
        Block b = child({release}, miners_[0]);
        // Search for a nonce whose hash misses the target, then sign it properly.
        while (MeetsBits(b.Hash(), b.header.bits)) ++b.header.nonce;
        sign(b, miners_[0]);
        forged.emplace_back("high-hash", b);
    }
    {
        Block b = child({release}, miners_[0]);
        b.header.merkle_root = testing::Leaf(1);
        testing::SolveAndSign(b, miners_[0]);
        forged.emplace_back("bad-merkle", b);
    }
    {
        Block b = child({release}, k_.outsider);
        testing::SolveAndSign(b, k_.outsider);
        forged.emplace_back("bad-miner", b);
    }
    {
        Block b = child({release}, miners_[0]);
        testing::SolveAndSign(b, miners_[0]);
        sign(b, miners_[1]);  // signed by someone else
        forged.emplace_back("bad-sig", b);
    }
    {
        // A chain of another genesis: its block 1 has a parent nobody here knows.
        testing::Keys other;
        const Block g2 = testing::MakeTestGenesis(other, NowSeconds());
        Block b = child({}, other.miner);
        b.header.prev_hash = g2.Hash();
        testing::SolveAndSign(b, other.miner);
        forged.emplace_back("orphan", b);
        forged.emplace_back("orphan", g2);
    }
    for (int n = 0; n < kNodes; ++n) {
        for (const auto& [reason, block] : forged) {
            auto r = Post(n, "/v1/blocks", block.ToJson());
            ASSERT_FALSE(r) << "node " << n << " accepted a forged block (" << reason << ")";
            EXPECT_EQ(r.error().reason, reason) << "node " << n << ": " << r.error().ToString();
        }
    }
    for (int n = 0; n < kNodes; ++n) {
        EXPECT_EQ(TipHash(n), tip_before);
        for (const auto& [reason, block] : forged) {
            const Json j = Get(n, "/v1/blocks/" + ToHex(block.Hash()));
            EXPECT_FALSE(j.is_object() && j.contains("header")) << reason << " stored";
        }
    }
    // The valid version of the same block is accepted and reaches every node.
    Block good = child({release}, miners_[0]);
    testing::SolveAndSign(good, miners_[0]);
    ASSERT_TRUE(Post(2, "/v1/blocks", good.ToJson()));
    ASSERT_TRUE(WaitFor([&] {
        for (int n = 0; n < kNodes; ++n) {
            if (TipHash(n) != ToHex(good.Hash())) return false;
        }
        return true;
    })) << Logs();
}

TEST_F(MultiNodeTest, SigkillWhileMiningThenRestartKeepsAValidChain) {
    ASSERT_FALSE(Start(0, {}).empty()) << Logs();
    ASSERT_FALSE(Start(1, {urls_[0]}, false).empty()) << Logs();
    // Plenty of work: admits keep the miner busy.
    std::vector<std::string> ids;
    for (int i = 0; i < 200; ++i) {
        SigningKey dev = SigningKey::Generate();
        const Tx admit = testing::AdmitTx(k_.admission, "dev-" + std::to_string(i), dev, "device");
        ASSERT_TRUE(Post(0, "/v1/tx", admit.ToJson()));
        ids.push_back(admit.Id());
    }
    std::uint64_t seen_height = 0;
    ASSERT_TRUE(WaitFor([&] {
        seen_height = Get(0, "/v1/tip").value("height", std::uint64_t{0});
        return seen_height >= 1;
    })) << Logs();
    procs_[0]->Kill(SIGKILL);
    EXPECT_FALSE(procs_[0]->Running());

    // Restart on the same data: the chain is whole and at least as long as what was observed.
    ASSERT_FALSE(Start(0, {urls_[1]}).empty()) << Logs();
    EXPECT_GE(Get(0, "/v1/tip").value("height", std::uint64_t{0}), seen_height);
    // It keeps going: a new tx is mined and both nodes agree.
    const Tx release = testing::ReleaseTx(k_.release, "cam", "3.0.0", 30);
    ASSERT_TRUE(Post(0, "/v1/tx", release.ToJson()));
    ASSERT_TRUE(WaitFor([&] { return Mined(0, release.Id()) && SameTip({0, 1}); })) << Logs();
    procs_[0]->Stop();
    auto verify = test::Run({Bin("ledger"), "verify", "--data", dir_ / "data0", "--genesis",
                             ToHex(genesis_.Hash()), "--genesis-file", dir_ / "genesis.json"});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// A gateway's node starts mining when its admission is in a block and stops at its revocation,
// without exiting: it keeps syncing and serving.
TEST_F(MultiNodeTest, AGatewayMinesOnceAdmittedAndStopsWhenRevokedWithoutExiting) {
    ASSERT_FALSE(Start(0, {}).empty()) << Logs();
    const SigningKey gateway = SigningKey::Generate();
    const std::string key_file = dir_ / "gateway.key";
    ASSERT_TRUE(gateway.Save(key_file));
    // Not admitted yet: the node starts anyway, and does not mine.
    ASSERT_FALSE(Start(1, {urls_[0]}, true, key_file).empty()) << Logs();
    EXPECT_FALSE(MiningMetric(1));

    const Tx admit = testing::AdmitTx(k_.admission, "gw-1", gateway, "gateway");
    ASSERT_TRUE(Post(0, "/v1/tx", admit.ToJson()));
    ASSERT_TRUE(WaitFor([&] { return Mined(1, admit.Id()) && MiningMetric(1); })) << Logs();

    // The genesis miner goes away: the gateway mines the next tx itself.
    procs_[0]->Stop();
    const Tx release = testing::ReleaseTx(k_.release, "cam", "4.0.0", 40);
    ASSERT_TRUE(Post(1, "/v1/tx", release.ToJson()));
    ASSERT_TRUE(WaitFor([&] { return Mined(1, release.Id()); })) << Logs();
    const auto at = Get(1, "/v1/tx/" + release.Id()).value("height", std::uint64_t{0});
    EXPECT_EQ(MinerAt(1, at), gateway.PublicHex());

    // Revoked (the gateway mines the block that revokes it): it stops mining, keeps serving.
    const Tx revoke = testing::RevokeTx(k_.admission, "gw-1", gateway, "gateway");
    ASSERT_TRUE(Post(1, "/v1/tx", revoke.ToJson()));
    ASSERT_TRUE(WaitFor([&] { return Mined(1, revoke.Id()) && !MiningMetric(1); })) << Logs();
    EXPECT_TRUE(procs_[1]->Running());
    const Tx later = testing::ReleaseTx(k_.release, "cam", "4.1.0", 41);
    ASSERT_TRUE(Post(1, "/v1/tx", later.ToJson()));
    EXPECT_TRUE(Get(1, "/v1/tip").contains("height"));

    // A genesis miner comes back and mines it; the revoked gateway's node syncs it.
    ASSERT_FALSE(Start(0, {urls_[1]}).empty()) << Logs();
    ASSERT_TRUE(WaitFor([&] { return Mined(0, revoke.Id()); })) << Logs();  // synced
    ASSERT_TRUE(Post(0, "/v1/tx", later.ToJson()));  // it was down when `later` was gossiped
    ASSERT_TRUE(WaitFor([&] { return Mined(1, later.Id()); })) << Logs();
    const auto later_at = Get(1, "/v1/tx/" + later.Id()).value("height", std::uint64_t{0});
    EXPECT_EQ(MinerAt(1, later_at), miners_[0].PublicHex());
    EXPECT_TRUE(procs_[1]->Running());
}

}  // namespace
}  // namespace fwchain::ledger
