// Every server exports Prometheus metrics at GET /metrics, and the figures follow what happened:
// one device updated through the real ledger, vendor and gateway.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "common/adapters/http.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

// "name{labels}" -> value, from the text exposition format.
std::map<std::string, double> Scrape(const std::string& base_url) {
    std::map<std::string, double> out;
    auto c = http::Client::For(base_url);
    if (!c) return out;
    auto r = c->Send("GET", "/metrics", nullptr, {}, 8 << 20);
    if (!r || r->status != 200) return out;
    EXPECT_EQ(r->Header("Content-Type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
    std::istringstream in(r->body);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto sp = line.rfind(' ');
        if (sp == std::string::npos) continue;
        out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
    return out;
}

double Get(const std::map<std::string, double>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? -1 : it->second;
}

TEST(Metrics, LedgerGatewayAndVendorExportWhatHappened) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Start(/*gateways=*/1);
    const std::string dev = sys.Provision("cam-001");
    ASSERT_EQ(sys.Publish("v1.0.0").exit_code, 0);
    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(), "1.0.0"));
    ASSERT_TRUE(sys.WaitForLedger("device=cam-001&type=update&state=installed", 1));

    // The ledger: its height is the tip's, it mined blocks and validated each one.
    auto ledger = Scrape(sys.ledger_url());
    auto client = http::Client::For(sys.ledger_url());
    ASSERT_TRUE(client);
    auto tip = client->GetJson("/v1/tip");
    ASSERT_TRUE(tip);
    const double height = Get(ledger, "fwchain_ledger_height");
    EXPECT_GE(height, 1);
    EXPECT_LE(height, tip->value("height", 0.0));
    const double mined = Get(ledger, "fwchain_ledger_blocks_mined_total");
    EXPECT_GE(mined, 1);
    EXPECT_GE(Get(ledger, "fwchain_ledger_block_validation_seconds_count"), mined);
    EXPECT_EQ(Get(ledger, "fwchain_ledger_blocks_rejected_total"), 0);
    EXPECT_GE(Get(ledger, "fwchain_ledger_mempool_txs"), 0);
    EXPECT_EQ(Get(ledger, "fwchain_ledger_mining"), 1);
    EXPECT_GE(Get(ledger, "fwchain_ledger_peers"), 0);
    EXPECT_GE(
        Get(ledger,
            R"(fwchain_http_request_duration_seconds_count{method="GET",route="/v1/search"})"),
        1);

    // The gateway: the device's checks, its image from the cache, its reports relayed.
    auto gw = Scrape(sys.gateway_url());
    const double checks = Get(gw, "fwchain_gateway_checks_total");
    EXPECT_GE(checks, 2);  // the boot that installed, the boot that committed
    EXPECT_EQ(
        Get(gw, R"(fwchain_http_request_duration_seconds_count{method="POST",route="/v1/check"})"),
        checks);
    EXPECT_GE(Get(gw, R"(fwchain_gateway_image_requests_total{result="hit"})"), 1);
    EXPECT_GE(Get(gw, "fwchain_gateway_image_bytes_served_total"), 65536);
    EXPECT_EQ(Get(gw, R"(fwchain_gateway_images_fetched_total{via="bittorrent"})"), 1);
    EXPECT_EQ(Get(gw, R"(fwchain_gateway_images_fetched_total{via="http"})"), 0);
    EXPECT_GE(Get(gw, "fwchain_gateway_cache_bytes"), 65536);
    EXPECT_GE(Get(gw, R"(fwchain_gateway_reports_total{result="relayed"})"), 1);
    EXPECT_GE(Get(gw, "fwchain_gateway_swarm_downloaded_bytes_total"), 0);
    EXPECT_EQ(Get(gw, "fwchain_gateway_mining"), 0);  // thin mode: no miner of its own

    // The vendor: the gateway announced to its tracker; the image went out as a web seed.
    auto vendor = Scrape(sys.vendor_url());
    EXPECT_GE(Get(vendor, "fwchain_vendor_tracker_announces_total"), 1);
    EXPECT_GE(Get(vendor, "fwchain_vendor_tracker_peers"), 0);
    EXPECT_GE(Get(vendor, R"(fwchain_vendor_publishes_total{result="published"})"), 0);
    EXPECT_GE(Get(vendor, R"(fwchain_vendor_admin_requests_total{result="refused"})"), 0);
    EXPECT_GE(Get(vendor, "fwchain_vendor_image_bytes_served_total"), 0);
    EXPECT_GE(Get(vendor, "fwchain_http_requests_total"), 1);
}

}  // namespace
}  // namespace fwchain::test
