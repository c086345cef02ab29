#include <gtest/gtest.h>

#include <thread>

#include "fixture.hpp"
#include "ledger/consensus/pow.hpp"
#include "ledger/net/dashboard.hpp"
#include "ledger/net/node.hpp"
#include "ledger/primitives/merkle.hpp"
#include "tests/support/fake_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;

// A mining node on a free port, driven through its HTTP API as the other programs do.
class NodeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 100);
        ASSERT_TRUE(WriteFileAtomic(dir_ / "genesis.json", genesis_.ToJson().dump()));
        ASSERT_TRUE(k_.miner.Save(dir_ / "miner.key"));
        ASSERT_TRUE(k_.outsider.Save(dir_ / "outsider.key"));
        opts_.data_dir = dir_ / "data";
        opts_.listen = "127.0.0.1:0";
        opts_.genesis_hash = ToHex(genesis_.Hash());
        opts_.genesis_file = dir_ / "genesis.json";
        opts_.mine = true;
        opts_.key_file = dir_ / "miner.key";
        opts_.http.workers = 4;
    }

    void StartNode() {
        auto node = Node::Open(opts_);
        ASSERT_TRUE(node) << node.error().ToString();
        node_ = std::move(*node);
        auto port = node_->Start();
        ASSERT_TRUE(port) << port.error().ToString();
        auto client = http::Client::For("http://127.0.0.1:" + std::to_string(*port));
        ASSERT_TRUE(client);
        client_ = std::make_unique<http::Client>(std::move(*client));
    }

    void TearDown() override {
        // Close our keep-alive connection first, or the server waits for it to time out.
        client_.reset();
        if (node_) node_->Stop();
    }

    std::uint64_t Confirmations(const std::string& id) {
        auto j = client_->GetJson("/v1/tx/" + id);
        return j ? j->value("confirmations", std::uint64_t{0}) : 0;
    }

    Keys k_;
    test::TempDir dir_;
    Block genesis_;
    NodeOptions opts_;
    std::unique_ptr<Node> node_;
    std::unique_ptr<http::Client> client_;
};

TEST_F(NodeTest, ReleaseGetsMinedAndConfirmedWithAVerifiableProof) {
    StartNode();
    auto tip0 = client_->GetJson("/v1/tip");
    ASSERT_TRUE(tip0);
    EXPECT_EQ((*tip0)["height"], 0);
    EXPECT_EQ((*tip0)["hash"], ToHex(genesis_.Hash()));

    const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    auto posted = client_->PostJson("/v1/tx", release.ToJson());
    ASSERT_TRUE(posted) << posted.error().ToString();
    EXPECT_EQ((*posted)["id"], release.Id());
    EXPECT_EQ((*posted)["status"], "pending");

    // The miner keeps going until the release has its 2 confirmations, then goes idle.
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(release.Id()) >= 2; }));
    auto tx = client_->GetJson("/v1/tx/" + release.Id());
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)["block_hash"].is_string());
    auto block_json = client_->GetJson("/v1/blocks/" + (*tx)["block_hash"].get<std::string>());
    ASSERT_TRUE(block_json);
    auto block = Block::FromJson(*block_json);
    ASSERT_TRUE(block) << block.error().ToString();
    auto proof = MerkleProofFromJson((*tx)["proof"]);
    ASSERT_TRUE(proof);
    EXPECT_EQ(MerkleRootFromProof(*Hash256FromHex(release.Id()), *proof),
              block->header.merkle_root);

    auto headers = client_->GetJson("/v1/headers?from=0&count=10");
    ASSERT_TRUE(headers);
    ASSERT_GE((*headers)["headers"].size(), 3u);
    EXPECT_EQ((*headers)["headers"][0]["hash"], ToHex(genesis_.Hash()));

    // Several blocks per request, in the order asked, for sync; bad lists are refused.
    const std::string h0 = (*headers)["headers"][0]["hash"];
    const std::string h2 = (*headers)["headers"][2]["hash"];
    auto two = client_->GetJson("/v1/blocks?hashes=" + h2 + "," + h0);
    ASSERT_TRUE(two) << two.error().ToString();
    ASSERT_EQ((*two)["blocks"].size(), 2u);
    EXPECT_EQ((*two)["blocks"][0]["hash"], h2);
    EXPECT_EQ((*two)["blocks"][1]["hash"], h0);
    ASSERT_TRUE(Block::FromJson((*two)["blocks"][0]));
    std::string too_many = h0;
    for (std::size_t i = 0; i < kMaxBlocksPerRequest; ++i) too_many += "," + h0;
    for (const std::string& bad : {std::string(), h0 + ",zz", too_many, h0 + ","}) {
        auto r = client_->GetJson("/v1/blocks?hashes=" + bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().reason, "bad-param") << bad;
    }
    auto unknown = client_->GetJson("/v1/blocks?hashes=" + h0 + "," + std::string(64, 'a'));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Errc::kNotFound);

    auto search = client_->GetJson("/v1/search?type=release&product=cam");
    ASSERT_TRUE(search);
    ASSERT_EQ((*search)["results"].size(), 1u);
    EXPECT_EQ((*search)["results"][0]["id"], release.Id());
    EXPECT_TRUE((*search)["next_cursor"].is_null());

    // Posting it again is a duplicate (409 with the id).
    const std::string release_text = release.ToJson().dump();
    auto dup = client_->Send("POST", "/v1/tx", &release_text);
    ASSERT_TRUE(dup);
    EXPECT_EQ(dup->status, 409);
    EXPECT_EQ(ParseJson(dup->body).value()["id"], release.Id());
}

TEST_F(NodeTest, RejectsBadInputWithReasons) {
    StartNode();
    auto post = [&](const std::string& path, const std::string& body) {
        auto res = client_->Send("POST", path, &body);
        if (!res) return std::make_pair(0, Json());
        auto j = ParseJson(res->body);
        return std::make_pair(res->status, j ? *j : Json());
    };
    EXPECT_EQ(post("/v1/tx", "{not json").first, 400);
    auto unauth =
        post("/v1/tx", testing::ReleaseTx(k_.outsider, "cam", "6.6.6", 6).ToJson().dump());
    EXPECT_EQ(unauth.first, 403);
    EXPECT_EQ(unauth.second["error"], "unauthorized-tx");
    Tx forged = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    forged.ver = "9.9.9";
    EXPECT_EQ(post("/v1/tx", forged.ToJson().dump()).first, 400);

    // A block mined by an unadmitted key is refused with its reason.
    auto tip = node_->chain().Tip();
    ASSERT_TRUE(tip);
    Block rogue;
    rogue.header.bits = 4;
    rogue.header.height = tip->height + 1;
    rogue.header.timestamp = NowSeconds();
    rogue.header.prev_hash = tip->hash;
    rogue.header.merkle_root = MerkleRootOfTxs(rogue.txs);
    rogue.header.miner = k_.outsider.Public();
    testing::SolveAndSign(rogue, k_.outsider);
    auto r = post("/v1/blocks", rogue.ToJson().dump());
    EXPECT_EQ(r.first, 403);
    EXPECT_EQ(r.second["error"], "bad-miner");

    auto search = client_->Send("GET", "/v1/search?limit=5000", nullptr);
    ASSERT_TRUE(search);
    EXPECT_EQ(search->status, 400);
    auto missing = client_->Send("GET", "/v1/tx/" + std::string(64, 'a'), nullptr);
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
}

// The attack that succeeded before strict verification: a relay turns a device report's
// signature R||S into R||(S+L) without the key. The ledger must refuse it, so the chain never
// holds an id the device did not sign and the device's own report still goes in.
TEST_F(NodeTest, MalleatedReportAndRepostedReleaseAreRefused) {
    StartNode();
    auto post = [&](const Tx& tx) {
        const std::string text = tx.ToJson().dump();
        auto res = client_->Send("POST", "/v1/tx", &text);
        if (!res) return std::make_pair(0, Json());
        auto j = ParseJson(res->body);
        return std::make_pair(res->status, j ? *j : Json());
    };
    const Tx admit = testing::AdmitTx(k_.admission, "dev-1", k_.device, "device");
    ASSERT_EQ(post(admit).first, 200);
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(admit.Id()) >= 1; }));

    const Tx report = testing::UpdateTx(k_.device, "dev-1", 1);
    const Tx malleated = testing::MalleateS(report);
    ASSERT_NE(malleated.Id(), report.Id());
    auto refused = post(malleated);
    EXPECT_EQ(refused.first, 400);
    EXPECT_EQ(refused.second["error"], "bad-signature");
    auto accepted = post(report);
    EXPECT_EQ(accepted.first, 200) << accepted.second.dump();
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(report.Id()) >= 1; }));
    EXPECT_EQ(client_->Send("GET", "/v1/tx/" + malleated.Id(), nullptr)->status, 404);

    // A release re-posted with S + L, or signed again with another nonce, is not a second
    // record of the same release.
    const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    ASSERT_EQ(post(release).first, 200);
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(release.Id()) >= 1; }));
    EXPECT_EQ(post(testing::MalleateS(release)).first, 400);
    auto resigned = post(testing::ReleaseTx(k_.release, "cam", "1.0.0", 1));
    EXPECT_EQ(resigned.first, 409);
    EXPECT_EQ(resigned.second["error"], "duplicate-release");
    EXPECT_NE(resigned.second["message"].get<std::string>().find(release.Id()), std::string::npos);
    auto search = client_->GetJson("/v1/search?type=release&product=cam");
    ASSERT_TRUE(search);
    EXPECT_EQ((*search)["results"].size(), 1u);
}

TEST_F(NodeTest, RefusesWrongGenesisHashAndOpensForAnUnadmittedMiner) {
    NodeOptions wrong = opts_;
    wrong.genesis_hash = std::string(64, '0');
    auto n1 = Node::Open(wrong);
    ASSERT_FALSE(n1);
    EXPECT_EQ(n1.error().reason, "genesis-mismatch");

    // A miner key that is not admitted yet opens (a new gateway's node) and does not mine.
    NodeOptions outsider = opts_;
    outsider.key_file = dir_ / "outsider.key";
    auto n2 = Node::Open(outsider);
    ASSERT_TRUE(n2) << n2.error().ToString();
    EXPECT_FALSE((*n2)->Mining());
}

TEST_F(NodeTest, BlocksFromAPeerAreValidatedAndConnected) {
    opts_.mine = false;
    StartNode();
    auto templ = node_->chain().BuildTemplate(k_.miner.Public(), NowSeconds());
    ASSERT_TRUE(templ);
    Block b = *templ;
    testing::SolveAndSign(b, k_.miner);
    auto posted = client_->PostJson("/v1/blocks", b.ToJson());
    ASSERT_TRUE(posted) << posted.error().ToString();
    EXPECT_EQ((*posted)["height"], 1);
    auto tip = client_->GetJson("/v1/tip");
    ASSERT_TRUE(tip);
    EXPECT_EQ((*tip)["hash"], ToHex(b.Hash()));
}

TEST_F(NodeTest, StatusCountsLatestInstalledVersionPerDeviceAndFailures) {
    StartNode();
    auto post = [&](const Tx& tx) {
        auto r = client_->PostJson("/v1/tx", tx.ToJson());
        ASSERT_TRUE(r) << r.error().ToString();
    };
    post(testing::AdmitTx(k_.admission, "dev-1", k_.device, "device"));
    post(testing::AdmitTx(k_.admission, "dev-2", k_.device2, "device"));
    post(testing::UpdateTx(k_.device, "dev-1", 1, "installed", "1.0.0"));
    post(testing::UpdateTx(k_.device, "dev-1", 2, "installed", "1.1.0"));
    post(testing::UpdateTx(k_.device2, "dev-2", 1, "installed", "1.0.0"));
    const Tx last = testing::UpdateTx(k_.device2, "dev-2", 2, "failed", "1.1.0");
    post(last);
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(last.Id()) >= 1; }));
    auto st = client_->GetJson("/v1/status?product=cam&limit=1");
    ASSERT_TRUE(st) << st.error().ToString();
    EXPECT_EQ((*st)["devices"], 2);
    EXPECT_EQ((*st)["versions"]["1.1.0"], 1);
    EXPECT_EQ((*st)["versions"]["1.0.0"], 1) << "dev-2's failed 1.1.0 leaves it on 1.0.0";
    EXPECT_EQ((*st)["failures"]["1.1.0"], 1);
    ASSERT_EQ((*st)["latest"].size(), 1u);
    EXPECT_EQ((*st)["latest"][0]["device"], "dev-1");
    EXPECT_EQ((*st)["latest"][0]["ver"], "1.1.0");
    ASSERT_TRUE((*st)["next_cursor"].is_string());
    auto page2 = client_->GetJson("/v1/status?product=cam&limit=1&cursor=" +
                                  (*st)["next_cursor"].get<std::string>());
    ASSERT_TRUE(page2);
    ASSERT_EQ((*page2)["latest"].size(), 1u);
    EXPECT_EQ((*page2)["latest"][0]["device"], "dev-2");
    EXPECT_TRUE((*page2)["next_cursor"].is_null());
    EXPECT_FALSE(client_->GetJson("/v1/status"));
}

TEST_F(NodeTest, NagaraPrototypeEndpointsMapOntoTheRealRules) {
    StartNode();
    // /transactions/new takes only signed txs.
    Tx unsigned_tx = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    const Tx signed_tx = unsigned_tx;
    unsigned_tx.sig.clear();
    EXPECT_FALSE(client_->PostJson("/transactions/new", unsigned_tx.ToJson()));
    auto added = client_->PostJson("/transactions/new", signed_tx.ToJson());
    ASSERT_TRUE(added) << added.error().ToString();
    EXPECT_NE((*added)["message"].get<std::string>().find("will be added to Block"),
              std::string::npos);
    // /mine on a miner forges a block now.
    auto mined = client_->GetJson("/mine");
    ASSERT_TRUE(mined) << mined.error().ToString();
    EXPECT_EQ((*mined)["message"], "New Block Forged");
    EXPECT_TRUE((*mined)["index"].is_number());
    auto chain = client_->GetJson("/chain");
    ASSERT_TRUE(chain);
    EXPECT_EQ((*chain)["length"].get<std::uint64_t>(), (*chain)["chain"].size());
    EXPECT_EQ((*chain)["chain"][0]["hash"], ToHex(genesis_.Hash()));
    // /nodes/register needs URLs; /nodes/resolve with no better peer keeps our chain.
    EXPECT_FALSE(client_->PostJson("/nodes/register", Json{{"nodes", Json::array()}}));
    EXPECT_FALSE(client_->PostJson("/nodes/register", Json{{"nodes", {"ftp://x"}}}));
    auto reg = client_->PostJson("/nodes/register", Json{{"nodes", {"http://127.0.0.1:1"}}});
    ASSERT_TRUE(reg) << reg.error().ToString();
    EXPECT_EQ((*reg)["total_nodes"].size(), 1u);
    auto resolved = client_->GetJson("/nodes/resolve");
    ASSERT_TRUE(resolved) << resolved.error().ToString();
    EXPECT_EQ((*resolved)["message"], "Our chain is authoritative");
}

TEST_F(NodeTest, MineIsRefusedToANonMiner) {
    opts_.mine = false;
    StartNode();
    auto r = client_->GetJson("/mine");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "not-a-miner");
}

TEST_F(NodeTest, APeerServingInvalidHeadersIsBannedAndNothingIsStored) {
    // A fake peer claiming far more work, whose headers do not carry it.
    httplib::Server fake;
    fake.Get("/v1/tip", [](const httplib::Request&, httplib::Response& res) {
        http::SendJson(res, Json{{"height", 3},
                                 {"hash", std::string(64, '0')},
                                 {"time", 0},
                                 {"bits", 60},
                                 {"work", WorkToHex(BlockWork(60))}});
    });
    fake.Get("/v1/headers", [&](const httplib::Request&, httplib::Response& res) {
        BlockHeader h = genesis_.header;
        h.height = 1;  // claims to follow genesis, but without proof of work or link
        h.bits = 60;
        http::SendJson(
            res, Json{{"headers", Json::array({Json{{"height", 0},
                                                    {"hash", ToHex(genesis_.Hash())},
                                                    {"header", ToHex(genesis_.header.Serialize())}},
                                               Json{{"height", 1},
                                                    {"hash", ToHex(h.Hash())},
                                                    {"header", ToHex(h.Serialize())}}})}});
    });
    const int port = fake.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port, 0);
    std::thread serving([&] { fake.listen_after_bind(); });
    opts_.mine = false;
    opts_.peers = {"http://127.0.0.1:" + std::to_string(port)};
    opts_.sync_interval_ms = 100;
    StartNode();
    const bool banned = test::WaitFor([&] {
        auto peers = client_->GetJson("/v1/peers");
        return peers && (*peers)["peers"].size() == 1 &&
               (*peers)["peers"][0].value("banned_until", std::int64_t{0}) > 0;
    });
    fake.stop();
    serving.join();
    ASSERT_TRUE(banned);
    auto tip = client_->GetJson("/v1/tip");
    ASSERT_TRUE(tip);
    EXPECT_EQ((*tip)["height"], 0);
}

// An update report about release `sequence` of "cam" (the fixture's UpdateTx names sequence 1).
Tx Report(const SigningKey& device, const std::string& id, std::uint64_t nonce,
          const std::string& state, const std::string& ver, std::uint64_t sequence,
          std::int64_t time = NowSeconds()) {
    Tx tx = testing::UpdateTx(device, id, nonce, state, ver);
    tx.time = time;
    tx.body = UpdateTxBody{"cam", sequence, sequence - 1, "gw1", "", std::nullopt}.ToJson();
    tx.SignWith(device);
    return tx;
}

TEST_F(NodeTest, DashboardEndpointsSummariseProductsReleasesAndActivity) {
    StartNode();
    const std::int64_t now = NowSeconds();
    const Tx r1 = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    const Tx r2 = testing::ReleaseTx(k_.release, "cam", "1.1.0", 2);
    std::vector<Tx> txs = {
        testing::AdmitTx(k_.admission, "dev-1", k_.device, "device"),
        testing::AdmitTx(k_.admission, "dev-2", k_.device2, "device"),
        testing::AdmitTx(k_.admission, "gw-1", k_.gateway, "gateway", ""),
        r1,
        r2,
        Report(k_.device, "dev-1", 1, "installed", "1.0.0", 1, now - 120),
        Report(k_.device, "dev-1", 2, "installed", "1.1.0", 2, now - 60),
        Report(k_.device2, "dev-2", 1, "installed", "1.0.0", 1, now - 60),
        Report(k_.device2, "dev-2", 2, "failed", "1.0.0", 2, now),
        Report(k_.device2, "dev-2", 3, "failed", "1.0.0", 2, now),
    };
    for (const Tx& tx : txs) {
        auto posted = client_->PostJson("/v1/tx", tx.ToJson());
        ASSERT_TRUE(posted) << posted.error().ToString();
    }
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(txs.back().Id()) >= 1; }));

    auto products = client_->GetJson("/v1/products");
    ASSERT_TRUE(products) << products.error().ToString();
    ASSERT_EQ((*products)["products"].size(), 1u) << products->dump();
    const Json& cam = (*products)["products"][0];
    EXPECT_EQ(cam["product"], "cam");
    EXPECT_EQ(cam["releases"], 2);
    EXPECT_EQ(cam["devices"], 2);
    EXPECT_EQ(cam["latest"]["version"], "1.1.0");
    EXPECT_EQ(cam["latest"]["sequence"], 2);

    auto releases = client_->GetJson("/v1/releases?product=cam");
    ASSERT_TRUE(releases) << releases.error().ToString();
    ASSERT_EQ((*releases)["releases"].size(), 2u);
    const Json& newest = (*releases)["releases"][0];
    EXPECT_EQ(newest["id"], r2.Id());
    EXPECT_EQ(newest["version"], "1.1.0");
    EXPECT_EQ(newest["sequence"], 2);
    EXPECT_GE(newest["confirmations"].get<std::uint64_t>(), 1u);
    EXPECT_EQ(newest["outcomes"], (Json{{"installed", 1}, {"failed", 1}}))
        << "distinct devices per state: dev-2's two failures count once";
    EXPECT_EQ((*releases)["releases"][1]["outcomes"], (Json{{"installed", 2}}));
    auto none = client_->GetJson("/v1/releases?product=door");
    ASSERT_TRUE(none);
    EXPECT_TRUE((*none)["releases"].empty());
    EXPECT_FALSE(client_->GetJson("/v1/releases"));
    EXPECT_FALSE(client_->GetJson("/v1/releases?product=cam&limit=0"));

    // Ten one-minute buckets ending after `now`: the reports fall in three of them.
    const std::int64_t since = now - 540;
    auto activity =
        client_->GetJson("/v1/activity?product=cam&bucket=60&since=" + std::to_string(since) +
                         "&until=" + std::to_string(now + 1));
    ASSERT_TRUE(activity) << activity.error().ToString();
    ASSERT_EQ((*activity)["buckets"].size(), 10u);
    EXPECT_EQ((*activity)["since"], since);
    EXPECT_EQ((*activity)["until"], since + 600);
    EXPECT_EQ((*activity)["buckets"][9]["start"], since + 540);
    EXPECT_EQ((*activity)["buckets"][9]["counts"], (Json{{"failed", 2}}));
    EXPECT_EQ((*activity)["buckets"][8]["counts"], (Json{{"installed", 2}}));
    EXPECT_EQ((*activity)["buckets"][7]["counts"], (Json{{"installed", 1}}));
    EXPECT_EQ((*activity)["buckets"][0]["counts"], Json::object());
    auto other =
        client_->GetJson("/v1/activity?product=door&bucket=60&since=" + std::to_string(since) +
                         "&until=" + std::to_string(now + 1));
    ASSERT_TRUE(other);
    for (const auto& b : (*other)["buckets"]) EXPECT_TRUE(b["counts"].empty());
    for (const std::string bad :
         {"bucket=0", "since=10&until=10", "bucket=1&since=0&until=5000", "since=x"}) {
        auto r = client_->GetJson("/v1/activity?" + bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().reason, "bad-param") << bad;
    }
}

TEST_F(NodeTest, ExplorerEndpointsListBlocksAndMiners) {
    StartNode();
    const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    ASSERT_TRUE(client_->PostJson("/v1/tx", release.ToJson()));
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(release.Id()) >= 2; }));
    auto tip = node_->chain().Tip();
    ASSERT_TRUE(tip);

    auto blocks = client_->GetJson("/v1/chain/blocks?count=2");
    ASSERT_TRUE(blocks) << blocks.error().ToString();
    EXPECT_EQ((*blocks)["tip"], tip->height);
    ASSERT_EQ((*blocks)["blocks"].size(), 2u);
    EXPECT_EQ((*blocks)["blocks"][0]["height"], tip->height);
    EXPECT_EQ((*blocks)["blocks"][0]["hash"], ToHex(tip->hash));
    EXPECT_EQ((*blocks)["blocks"][1]["height"], tip->height - 1);
    EXPECT_EQ((*blocks)["blocks"][0]["prev"], (*blocks)["blocks"][1]["hash"]);
    EXPECT_EQ((*blocks)["blocks"][0]["miner_id"], k_.miner.Id());
    EXPECT_EQ((*blocks)["next_before"], tip->height - 1);

    // All blocks, genesis included, page by page: the tx counts add up to the chain's txs.
    std::uint64_t total_txs = 0;
    std::uint64_t seen = 0;
    std::string path = "/v1/chain/blocks?count=1";
    while (true) {
        auto page = client_->GetJson(path);
        ASSERT_TRUE(page) << path;
        for (const auto& b : (*page)["blocks"]) {
            total_txs += b["txs"].get<std::uint64_t>();
            ++seen;
        }
        if ((*page)["next_before"].is_null()) break;
        path = "/v1/chain/blocks?count=1&before=" + (*page)["next_before"].dump();
    }
    EXPECT_EQ(seen, tip->height + 1);
    EXPECT_EQ(total_txs, 2u) << "the genesis tx and the release";

    // One block by hash: its tx ids in block order, the release among them.
    auto tx = client_->GetJson("/v1/tx/" + release.Id());
    ASSERT_TRUE(tx);
    auto one = client_->GetJson("/v1/chain/blocks?hash=" + (*tx)["block_hash"].get<std::string>());
    ASSERT_TRUE(one) << one.error().ToString();
    ASSERT_EQ((*one)["blocks"].size(), 1u);
    EXPECT_EQ((*one)["blocks"][0]["height"], (*tx)["height"]);
    EXPECT_EQ((*one)["blocks"][0]["tx_ids"], Json::array({release.Id()}));
    EXPECT_EQ((*one)["blocks"][0]["txs"], 1);
    EXPECT_EQ(
        client_->Send("GET", "/v1/chain/blocks?hash=" + std::string(64, 'a'), nullptr)->status,
        404);
    EXPECT_FALSE(client_->GetJson("/v1/chain/blocks?count=101"));

    auto miners = client_->GetJson("/v1/chain/miners");
    ASSERT_TRUE(miners) << miners.error().ToString();
    ASSERT_EQ((*miners)["miners"].size(), 1u);
    EXPECT_EQ((*miners)["miners"][0]["id"], k_.miner.Id());
    EXPECT_EQ((*miners)["miners"][0]["blocks"], tip->height + 1);
    EXPECT_EQ((*miners)["miners"][0]["role"], "miner");
    EXPECT_EQ((*miners)["to"], tip->height);
    EXPECT_FALSE(client_->GetJson("/v1/chain/miners?window=0"));
}

TEST_F(NodeTest, DashboardIsServedWithAStrictContentSecurityPolicy) {
    opts_.mine = false;
    StartNode();
    struct Want {
        std::string path;
        std::string type;
        std::string contains;
    };
    const Want wants[] = {
        {"/", "text/html; charset=utf-8", "<script src=\"/dashboard/app.js\""},
        {"/dashboard/app.js", "text/javascript; charset=utf-8", "textContent"},
        {"/dashboard/style.css", "text/css; charset=utf-8", "font"},
        {"/dashboard/chart.min.js", "text/javascript; charset=utf-8", "Chart.js v"},
        {"/dashboard/favicon.svg", "image/svg+xml", "<svg"},
    };
    for (const auto& w : wants) {
        auto r = client_->Send("GET", w.path, nullptr);
        ASSERT_TRUE(r) << w.path;
        EXPECT_EQ(r->status, 200) << w.path;
        EXPECT_EQ(r->Header("Content-Type").value_or(""), w.type) << w.path;
        EXPECT_NE(r->body.find(w.contains), std::string::npos) << w.path;
        EXPECT_EQ(r->Header("X-Content-Type-Options").value_or(""), "nosniff") << w.path;
        const std::string csp = r->Header("Content-Security-Policy").value_or("");
        EXPECT_EQ(csp, kDashboardCsp) << w.path;
        EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
        EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
    }
    // The page holds no inline script or style, which the CSP would block anyway.
    auto page = client_->GetText("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->find("<script>"), std::string::npos);
    EXPECT_EQ(page->find("style="), std::string::npos);
    EXPECT_EQ(page->find("onclick"), std::string::npos);
    for (const std::string missing : {"/dashboard/nope.js", "/dashboard/", "/index.html"}) {
        auto r = client_->Send("GET", missing, nullptr);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404) << missing;
    }
}

}  // namespace
}  // namespace fwchain::ledger
