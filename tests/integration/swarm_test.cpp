// The swarm on loopback with the real programs (docs/architecture.md "The swarm"): the vendor
// seeds over BitTorrent itself and gateways fetch without its web seed; an image a gateway fetched
// over the HTTP fallback is seeded to the next gateway; the byte counters of /v1/health balance
// across the download-to-seed handover.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "common/adapters/http.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

// One sample of a Prometheus text exposition ("name{labels}" exactly as written); -1 if absent.
double Metric(const std::string& base_url, const std::string& name) {
    auto c = http::Client::For(base_url);
    if (!c) return -1;
    auto r = c->Send("GET", "/metrics", nullptr, {}, 8 << 20);
    if (!r || r->status != 200) return -1;
    std::istringstream in(r->body);
    std::string line;
    while (std::getline(in, line)) {
        const auto sp = line.rfind(' ');
        if (!line.empty() && line[0] != '#' && sp != std::string::npos &&
            line.substr(0, sp) == name) {
            return std::stod(line.substr(sp + 1));
        }
    }
    return -1;
}

std::int64_t Bt(const Json& health, const char* key) {
    return health.value("bittorrent", Json::object()).value(key, std::int64_t{-1});
}

// Waits until gateway `i` has fetched `n` images one way or the other; returns its health.
Json WaitForFetches(System& sys, int i, int n) {
    Json h;
    const bool done = WaitFor(
        [&] {
            h = sys.GatewayHealth(i);
            return h.value("fetched_bittorrent", 0) + h.value("fetched_http", 0) >= n;
        },
        std::chrono::seconds(120));
    EXPECT_TRUE(done) << "gateway " << i << " never fetched the image: " << h.dump() << "\n"
                      << sys.gateway(i).Log();
    return h;
}

// Two gateways fetch a 4 MiB image while their web seed waits an hour: everything came from the
// vendor's BitTorrent seeder (each piece handed out about once) and from each other, nothing over
// the vendor's HTTP.
// Every byte a gateway downloaded was uploaded by the vendor or a gateway, and the uploads a
// gateway made while it was still downloading count too (they were lost when the torrent was
// removed and re-added to seed).
TEST(Swarm, TheVendorSeedsAndTheGatewaysBooksBalanceAcrossTheHandover) {
    System sys;
    sys.Start(2, {}, {"--bt-web-seed-delay", "3600"});
    constexpr std::int64_t kImage = 4 << 20;
    sys.Tag("v1.0.0", "First release", kImage);
    ASSERT_EQ(sys.Publish("v1.0.0").exit_code, 0);
    Json g0 = WaitForFetches(sys, 0, 1);
    Json g1 = WaitForFetches(sys, 1, 1);
    for (const Json* h : {&g0, &g1}) {
        EXPECT_EQ(h->value("fetched_bittorrent", 0), 1) << h->dump();
        EXPECT_EQ(h->value("fetched_http", -1), 0) << h->dump();
        EXPECT_EQ(Bt(*h, "torrents"), 1) << h->dump();
        EXPECT_GE(Bt(*h, "downloaded"), kImage) << h->dump();
    }
    // The web seed never served: not one image byte left the vendor over HTTP.
    EXPECT_EQ(Metric(sys.vendor_url(), "fwchain_vendor_image_bytes_served_total"), 0);
    const double vendor_up = Metric(sys.vendor_url(), "fwchain_vendor_swarm_uploaded_bytes_total");
    EXPECT_GE(vendor_up, static_cast<double>(kImage)) << sys.vendor().Log();
    // Each piece left the vendor about once: less than a copy per gateway (plain seeding or the
    // web seed send each gateway its own).
    EXPECT_LT(vendor_up, static_cast<double>(2 * kImage)) << g0.dump() << "\n" << g1.dump();
    EXPECT_EQ(Metric(sys.vendor_url(), "fwchain_vendor_swarm_torrents"), 1);
    // Read again now that both are done (nothing moves between seeds).
    g0 = sys.GatewayHealth(0);
    g1 = sys.GatewayHealth(1);
    const double received = static_cast<double>(Bt(g0, "downloaded") + Bt(g1, "downloaded"));
    const double sent = vendor_up + static_cast<double>(Bt(g0, "uploaded") + Bt(g1, "uploaded"));
    EXPECT_LE(received, sent) << g0.dump() << "\n"
                              << g1.dump() << "\nvendor uploaded " << vendor_up;
}

// The first gateway finds no BitTorrent seed (the vendor's seeder is off, the web seed waits an
// hour) and falls back to HTTP; it then seeds the image, and the second gateway gets all of it
// from the first over BitTorrent: the vendor served the image once.
TEST(Swarm, AnImageFetchedOverHttpIsSeededToTheNextGateway) {
    System sys;
    sys.Start(0, {"--no-bittorrent"});
    sys.StartGateway({"--bt-stall-timeout", "2", "--bt-web-seed-delay", "3600"});
    constexpr std::int64_t kImage = 1 << 20;
    sys.Tag("v1.0.0", "First release", kImage);
    ASSERT_EQ(sys.Publish("v1.0.0").exit_code, 0);
    Json g0 = WaitForFetches(sys, 0, 1);
    EXPECT_EQ(g0.value("fetched_http", 0), 1) << g0.dump();
    // The poller counts the HTTP fetch before it adds the image's torrent to seed it, so the
    // health may show the fetch a moment before the torrent.
    (void)WaitFor(
        [&] {
            g0 = sys.GatewayHealth(0);
            return Bt(g0, "torrents") >= 1;
        },
        std::chrono::seconds(30));
    EXPECT_EQ(Bt(g0, "torrents"), 1) << "the HTTP fetch is not seeded: " << g0.dump();
    EXPECT_EQ(Metric(sys.vendor_url(), "fwchain_vendor_image_bytes_served_total"), kImage);

    sys.StartGateway({"--bt-web-seed-delay", "3600"});
    Json g1 = WaitForFetches(sys, 1, 1);
    EXPECT_EQ(g1.value("fetched_bittorrent", 0), 1) << g1.dump() << "\n" << sys.gateway(1).Log();
    EXPECT_EQ(g1.value("fetched_http", -1), 0) << g1.dump();
    EXPECT_GE(Bt(g1, "downloaded"), kImage) << g1.dump();
    // Nothing more from the vendor: the second copy came from the first gateway...
    EXPECT_EQ(Metric(sys.vendor_url(), "fwchain_vendor_image_bytes_served_total"), kImage);
    // ...whose counters say so.
    g0 = sys.GatewayHealth(0);
    g1 = sys.GatewayHealth(1);
    EXPECT_GE(Bt(g0, "uploaded"), Bt(g1, "downloaded")) << g0.dump() << "\n" << g1.dump();
    EXPECT_EQ(Metric(sys.gateway_url(0), "fwchain_gateway_swarm_uploaded_bytes_total"),
              static_cast<double>(Bt(g0, "uploaded")));
}

// Outside its upload windows a gateway says so (GET /v1/health, /metrics); inside one it uploads.
// The window is placed an hour away from the test's local time, so it cannot open meanwhile.
TEST(Swarm, UploadWindowsAndTheCapShowInHealth) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&now, &local);
    const int minute = local.tm_hour * 60 + local.tm_min;
    auto clock = [](int m) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%02d:%02d", (m % 1440) / 60, m % 60);
        return std::string(buf);
    };
    const std::string later = clock(minute + 60) + "-" + clock(minute + 120);
    const std::string around = clock(minute + 1380) + "-" + clock(minute + 60);  // -60..+60 min
    System sys;
    sys.Start(0);
    sys.StartGateway({"--swarm-window", later, "--swarm-upload-limit", "1MB/s"});
    sys.StartGateway({"--swarm-window", later, "--swarm-window", around});
    Json closed = sys.GatewayHealth(0);
    EXPECT_EQ(closed["bittorrent"].value("upload_allowed", true), false) << later << closed.dump();
    EXPECT_EQ(Metric(sys.gateway_url(0), "fwchain_gateway_swarm_upload_allowed"), 0);
    Json open = sys.GatewayHealth(1);
    EXPECT_EQ(open["bittorrent"].value("upload_allowed", false), true) << around << open.dump();
    EXPECT_EQ(Metric(sys.gateway_url(1), "fwchain_gateway_swarm_upload_allowed"), 1);
    EXPECT_NE(sys.gateway(0).Log().find("upload capped at 1000000 B/s, within " + later),
              std::string::npos)
        << sys.gateway(0).Log();
}

}  // namespace
}  // namespace fwchain::test
