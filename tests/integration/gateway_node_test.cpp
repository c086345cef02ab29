// Gateways as ledger nodes (the access points carry the chain): three gateways run their own
// nodes, are admitted by the vendor and then mine; with the vendor's node no longer mining, a
// release is confirmed by gateway-mined blocks and reaches a device.
#include <gtest/gtest.h>

#include <set>

#include "common/adapters/http.hpp"
#include "common/core/crypto.hpp"
#include "ledger/primitives/block.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

constexpr int kGateways = 3;

// The miner of the block at `height` on the node at `url`.
std::string MinerAt(const std::string& url, std::uint64_t height) {
    auto c = http::Client::For(url);
    if (!c) return "";
    auto h = c->GetJson("/v1/headers?from=" + std::to_string(height) + "&count=1");
    if (!h || (*h)["headers"].empty()) return "";
    auto bytes = FromHex((*h)["headers"][0].value("header", std::string()));
    if (!bytes || bytes->size() != ledger::kHeaderSize) return "";
    return ToHex(ledger::BlockHeader::Deserialize(bytes->data()).miner);
}

TEST(GatewayNode, GatewaysMineOnceAdmittedAndConfirmAReleaseWithoutTheVendorsMiner) {
    System sys;
    sys.Tag("v1.0.0", "Confirmed by gateways");
    sys.Start(/*gateways=*/0);  // the vendor's node mines until the gateways are admitted

    std::vector<std::string> node_urls;
    std::set<std::string> gateway_keys;
    for (int i = 0; i < kGateways; ++i) {
        const int port = FreePort();
        // Gateway 1 runs a pruned node (an access point with little flash).
        std::vector<std::string> extra = {"--rollout-interval", "1"};
        if (i == 1) extra.insert(extra.end(), {"--prune-budget", "50MB"});
        sys.StartNodeGateway(port, extra);
        node_urls.push_back("http://127.0.0.1:" + std::to_string(port));
        auto key = SigningKey::Load(sys.dir() + "/gateway" + std::to_string(i) + "/gateway.key");
        ASSERT_TRUE(key) << key.error().ToString();
        gateway_keys.insert(key->PublicHex());
        RunResult admit = test::Run({Bin("vendor-server"), "admit-gateway", "--data",
                                     sys.vendor_dir(), "--name", "gw-" + std::to_string(i),
                                     "--public", key->PublicHex(), "--ledger", sys.ledger_url()});
        ASSERT_EQ(admit.exit_code, 0) << admit.out << admit.err;
    }
    // Each gateway's node syncs its admission and starts mining.
    for (int i = 0; i < kGateways; ++i) {
        ASSERT_TRUE(WaitFor([&] {
            const Json ledger = sys.GatewayHealth(i).value("ledger", Json::object());
            return ledger.value("mode", "") == "embedded" && ledger.value("mining", false);
        })) << "gateway "
            << i << " never mined\n"
            << sys.gateway(i).Log();
    }

    // The vendor's node stops mining: from now on only gateways make blocks.
    sys.RestartLedger(/*mine=*/false, node_urls);
    const std::string dev = sys.Provision("cam-001");
    RunResult pub = sys.Publish("v1.0.0", "cam", "rev-b", {"--json"});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    auto result = ParseJson(pub.out, 1 << 20);
    ASSERT_TRUE(result);
    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(1), "1.0.0"));

    // The release tx and the block on top of it were mined by admitted gateways.
    auto c = http::Client::For(node_urls[0]);
    ASSERT_TRUE(c);
    auto tx = c->GetJson("/v1/tx/" + result->value("tx_id", ""));
    ASSERT_TRUE(tx) << tx.error().ToString();
    const auto height = tx->value("height", std::uint64_t{0});
    ASSERT_GT(height, 0u);
    EXPECT_TRUE(gateway_keys.count(MinerAt(node_urls[0], height))) << height;
    EXPECT_TRUE(gateway_keys.count(MinerAt(node_urls[0], height + 1))) << height + 1;
    // `gateway status` shows the embedded node mining and the release offered.
    RunResult status = test::Run({Bin("gateway"), "status", "--url", sys.gateway_url(1)});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    EXPECT_NE(status.out.find("ledger   embedded"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("mining   yes"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("cache    1 image(s)"), std::string::npos) << status.out;
    auto status_json = test::Run({Bin("gateway"), "status", "--url", sys.gateway_url(1), "--json"});
    ASSERT_EQ(status_json.exit_code, 0) << status_json.err;
    auto sj = ParseJson(status_json.out);
    ASSERT_TRUE(sj) << status_json.out;
    EXPECT_EQ((*sj)["ledger"]["mode"], "embedded");
    EXPECT_GE((*sj)["ledger"].value("peers", 0), 1);
    EXPECT_GE((*sj)["ledger"].value("height", 0u), height + 1);
    EXPECT_EQ((*sj)["cache"]["images"].size(), 1u);
    // Its node is pruned with the budget given, and keeps the txs of the device it serves (the
    // device's install report went through it).
    auto kept = [&] {
        return sys.GatewayHealth(1)["ledger"]["storage"].value("kept_devices", std::uint64_t{0});
    };
    ASSERT_TRUE(WaitFor([&] {
        if (kept() >= 1) return true;
        sys.Boot(dev, sys.gateway_url(1));  // sends a report still queued, if any
        return kept() >= 1;
    })) << sys.gateway(1).Log();
    const Json storage = sys.GatewayHealth(1)["ledger"].value("storage", Json::object());
    EXPECT_TRUE(storage.value("pruned", false)) << storage.dump();
    EXPECT_EQ(storage.value("prune_budget", std::uint64_t{0}), 50000000u) << storage.dump();
    EXPECT_EQ(storage.value("kept_devices", std::uint64_t{0}), 1u) << storage.dump();
    EXPECT_LE(storage.value("store_bytes", std::uint64_t{1} << 40), 50000000u);
    EXPECT_FALSE(sys.GatewayHealth(0)["ledger"]["storage"].value("pruned", true));
    EXPECT_NE(status.out.find("pruned through height"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("cam 1.0.0 (seq 1): complete 100%"), std::string::npos) << status.out;
    EXPECT_EQ(test::Run({Bin("gateway"), "status", "--url", "http://127.0.0.1:1"}).exit_code, 1);
    auto metrics = http::Client::For(sys.gateway_url(1));
    ASSERT_TRUE(metrics);
    auto scrape = metrics->Send("GET", "/metrics", nullptr, {}, 1 << 20);
    ASSERT_TRUE(scrape);
    EXPECT_NE(scrape->body.find("\nfwchain_gateway_mining 1\n"), std::string::npos);

    // Every gateway's node holds the same chain.
    ASSERT_TRUE(WaitFor([&] {
        std::set<std::string> tips;
        for (const auto& url : node_urls) {
            auto n = http::Client::For(url);
            auto tip = n ? n->GetJson("/v1/tip") : Expected<Json>(n.error());
            if (!tip) return false;
            tips.insert(tip->value("hash", ""));
        }
        return tips.size() == 1;
    }));
}

}  // namespace
}  // namespace fwchain::test
