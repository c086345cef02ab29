// Distribution: the hybrid .torrent of each release, its web seed (the server's own image URL),
// and the HTTP tracker, exercised with a real libtorrent session on loopback.
#include "vendor-server/torrent.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <random>

#include "common/core/bytes.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "tests/support/libtorrent.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/vendor-server/fixture.hpp"
#include "tests/unit/vendor-server/server_thread.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/tracker.hpp"

namespace fwchain::vendor {
namespace {

using fwchain::test::WaitFor;

std::string RandomBytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

std::string Escape(const std::string& raw) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : raw) {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

std::string Unhex(const std::string& hex) {
    auto b = FromHex(hex);
    return b ? std::string(b->begin(), b->end()) : std::string();
}

class TorrentTest : public test::VendorFixture {
  protected:
    // Publishes a multi-piece image from a file (outside the repo's work tree).
    PublishResult PublishImage(std::size_t size) {
        image_ = RandomBytes(size, 7);
        const std::string path = tmp_ / "fw-image.bin";
        test::WriteText(path, image_);
        auto opts = PublishOpts("v1.0.0");
        opts.image = path;
        auto r = Publish(opts);
        EXPECT_TRUE(r) << r.error().ToString();
        return r ? *r : PublishResult{};
    }
    std::string image_;
};

TEST_F(TorrentTest, PublishRecordsTheHybridInfohashesInTheSignedManifest) {
    auto r = PublishImage(300 * 1024);
    const DataDir dir(data());
    auto stored = ReadFile(dir.Torrent(r.sha256));
    ASSERT_TRUE(stored);
    auto info = ReadTorrentInfo(*stored);
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_EQ(40u, info->infohash_v1.size());
    EXPECT_EQ(64u, info->infohash_v2.size());

    auto text = ReadFile(dir.ManifestFile("cam", 1));
    ASSERT_TRUE(text);
    auto env = ParseEnvelope(*text);
    ASSERT_TRUE(env);
    EXPECT_EQ(info->infohash_v1, env->signed_doc["torrent"]["infohash_v1"]);
    EXPECT_EQ(info->infohash_v2, env->signed_doc["torrent"]["infohash_v2"]);
    EXPECT_EQ(r.infohash_v1, info->infohash_v1);

    // The stored torrent names no tracker or web seed: those are added by `serve`.
    lt::error_code ec;
    lt::torrent_info ti(*stored, ec, lt::from_span);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(ti.web_seeds().empty());
    EXPECT_EQ(r.sha256, ti.files().file_name(lt::file_index_t{0}).to_string());
    EXPECT_EQ(static_cast<std::int64_t>(image_.size()), ti.total_size());
}

TEST_F(TorrentTest, ServedTorrentCarriesTheServersWebSeedAndTracker) {
    auto r = PublishImage(100 * 1024);
    ApiConfig cfg;
    cfg.public_url = "https://updates.example.com/";
    auto server = test::RunningApi::Start(data(), cfg);
    ASSERT_TRUE(server);
    httplib::Client cli("127.0.0.1", server->port());
    auto res = cli.Get(("/v1/torrents/" + r.sha256 + ".torrent").c_str());
    ASSERT_TRUE(res);
    ASSERT_EQ(200, res->status) << res->body;
    EXPECT_EQ("application/x-bittorrent", res->get_header_value("Content-Type"));
    lt::error_code ec;
    lt::torrent_info ti(res->body, ec, lt::from_span);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(1u, ti.web_seeds().size());
    EXPECT_EQ("https://updates.example.com/v1/images/" + r.sha256, ti.web_seeds()[0].url);
    ASSERT_EQ(1u, ti.trackers().size());
    EXPECT_EQ("https://updates.example.com/announce", ti.trackers()[0].url);
    // Same info dictionary as the manifest names, whatever URL the server is reached at.
    auto info = ReadTorrentInfo(res->body);
    ASSERT_TRUE(info);
    EXPECT_EQ(r.infohash_v1, info->infohash_v1);
    EXPECT_EQ(r.infohash_v2, info->infohash_v2);

    EXPECT_EQ(404, cli.Get(("/v1/torrents/" + std::string(64, 'a') + ".torrent").c_str())->status);
    EXPECT_EQ(404, cli.Get("/v1/torrents/..%2Fconfig.json.torrent")->status);
}

TEST_F(TorrentTest, ALibtorrentSessionDownloadsTheImageFromTheWebSeedAlone) {
    auto r = PublishImage(3 * 1024 * 1024 + 12345);  // several pieces, a partial last one
    auto server = test::RunningApi::Start(data());
    ASSERT_TRUE(server);
    httplib::Client cli("127.0.0.1", server->port());
    auto res = cli.Get(("/v1/torrents/" + r.sha256 + ".torrent").c_str());
    ASSERT_TRUE(res);
    ASSERT_EQ(200, res->status);

    lt::settings_pack sp = fwchain::test::LoopbackTorrentSettings();
    sp.set_int(lt::settings_pack::alert_mask, lt::alert_category::error);
    lt::session ses(sp);

    const std::string save = tmp_ / "download";
    ASSERT_TRUE(MakeDirs(save));
    lt::error_code ec;
    lt::add_torrent_params atp;
    atp.ti = std::make_shared<lt::torrent_info>(res->body, ec, lt::from_span);
    ASSERT_FALSE(ec) << ec.message();
    atp.save_path = save;
    lt::torrent_handle h = ses.add_torrent(std::move(atp), ec);
    ASSERT_FALSE(ec) << ec.message();

    // No other peer exists: every byte comes from the web seed.
    ASSERT_TRUE(WaitFor([&] { return h.status().is_seeding; }, std::chrono::seconds(120)))
        << "progress " << h.status().progress_ppm << " ppm";
    auto got = Sha256File(save + "/" + r.sha256);
    ASSERT_TRUE(got);
    EXPECT_EQ(r.sha256, *got);

    // The session announced itself to the server's tracker (one swarm for v1 and v2).
    EXPECT_TRUE(
        WaitFor([&] { return server->api().tracker().PeerCount(r.sha256, NowSeconds()) == 1; },
                std::chrono::seconds(30)));
}

TEST_F(TorrentTest, TrackerAnswersOnlyForItsOwnTorrentsWithCompactPeers) {
    auto r = PublishImage(64 * 1024);
    ApiConfig cfg;
    cfg.tracker_interval = 600;
    auto server = test::RunningApi::Start(data(), cfg);
    ASSERT_TRUE(server);
    httplib::Client cli("127.0.0.1", server->port());
    auto announce = [&](const std::string& raw_hash, int port, int left) {
        const std::string q =
            "/announce?info_hash=" + Escape(raw_hash) + "&peer_id=" + Escape(std::string(20, 'p')) +
            "&port=" + std::to_string(port) +
            "&uploaded=0&downloaded=0&left=" + std::to_string(left) + "&compact=1&event=started";
        auto res = cli.Get(q.c_str());
        EXPECT_TRUE(res);
        EXPECT_EQ(200, res ? res->status : 0);
        return res ? res->body : std::string();
    };
    const std::string v1 = Unhex(r.infohash_v1);
    const std::string v2_short = Unhex(r.infohash_v2.substr(0, 40));

    const std::string first = announce(v1, 6881, 0);
    EXPECT_NE(std::string::npos, first.find("8:intervali600e")) << first;
    EXPECT_NE(std::string::npos, first.find("5:peers0:")) << first;  // nobody else yet

    // A second peer, announcing the truncated v2 hash of the same hybrid torrent, is told
    // about the first: 127.0.0.1:6881 as 6 compact bytes.
    const std::string second = announce(v2_short, 6882, 1000);
    const std::string compact_first = std::string("\x7f\x00\x00\x01\x1a\xe1", 6);
    EXPECT_NE(std::string::npos, second.find("5:peers6:" + compact_first)) << second;
    EXPECT_NE(std::string::npos, second.find("8:completei1e")) << second;
    EXPECT_NE(std::string::npos, second.find("10:incompletei1e")) << second;

    // Not the vendor's torrent: refused, and nothing recorded.
    const std::string unknown = announce(std::string(20, '\x42'), 6883, 0);
    EXPECT_NE(std::string::npos, unknown.find("14:failure reason")) << unknown;
    EXPECT_EQ(std::string::npos, unknown.find("5:peers"));
    // Malformed: short info_hash, missing port.
    auto bad = cli.Get("/announce?info_hash=abc&port=1");
    ASSERT_TRUE(bad);
    EXPECT_NE(std::string::npos, bad->body.find("failure reason"));
    auto noport = cli.Get(("/announce?info_hash=" + Escape(v1)).c_str());
    ASSERT_TRUE(noport);
    EXPECT_NE(std::string::npos, noport->body.find("failure reason"));
}

TEST(Tracker, ExpiresSilentPeersAndForgetsStoppedOnes) {
    Tracker tracker(100);
    AnnounceRequest a;
    a.info_hash = std::string(20, 'x');
    a.ip = "10.0.0.1";
    a.port = 1000;
    a.left = 5;
    AnnounceRequest b = a;
    b.ip = "10.0.0.2";
    tracker.Announce("s", a, 1000);
    tracker.Announce("s", b, 1100);
    EXPECT_EQ(2u, tracker.PeerCount("s", 1150));
    EXPECT_EQ(1u, tracker.PeerCount("s", 1201));  // a: silent for more than 2 intervals
    EXPECT_EQ(0u, tracker.PeerCount("other", 1201));
    b.event = "stopped";
    const std::string answer = tracker.Announce("s", b, 1202);
    EXPECT_EQ(0u, tracker.PeerCount("s", 1202));
    EXPECT_NE(std::string::npos, answer.find("5:peers0:"));

    // Non-compact answers list dictionaries; IPv6 peers go to peers6 in compact answers.
    AnnounceRequest c = a;
    c.ip = "::1";
    tracker.Announce("t", c, 2000);
    AnnounceRequest d = a;
    d.ip = "10.0.0.9";
    const std::string compact = tracker.Announce("t", d, 2000);
    EXPECT_NE(std::string::npos, compact.find("6:peers618:")) << compact;
    d.compact = false;
    const std::string full = tracker.Announce("t", d, 2001);
    EXPECT_NE(std::string::npos, full.find("2:ip3:::1")) << full;
}

TEST(Tracker, ParsesBinaryInfoHashesFromTheRawQuery) {
    std::string error;
    const std::string raw = std::string("\x00\x01+%&=abcdefghijklmno", 20);
    auto req =
        ParseAnnounceQuery("info_hash=" + Escape(raw) + "&port=51413&left=7&numwant=500", &error);
    ASSERT_TRUE(req) << error;
    EXPECT_EQ(raw, req->info_hash);
    EXPECT_EQ(51413, req->port);
    EXPECT_EQ(7u, req->left);
    EXPECT_EQ(200, req->numwant);  // clamped
    EXPECT_FALSE(ParseAnnounceQuery("info_hash=" + Escape(raw) + "&port=70000", &error));
    EXPECT_FALSE(ParseAnnounceQuery("port=1", &error));
    EXPECT_FALSE(ParseAnnounceQuery("info_hash=" + Escape(raw) + "&port=1&left=-1", &error));
}

// Found by fuzzing (tests/fuzz/corpus/torrent/crash-info-rewritten): a torrent whose outer
// dictionary holds `info` twice parses, but TorrentWithUrls re-encoded it through lt::entry, which
// keeps another info dictionary than the one the infohashes were taken from, so the torrent
// `serve` hands out no longer parsed. Adding URLs must leave the infohashes (which the signed
// manifest names) as they are, or refuse.
TEST(Torrent, AddingUrlsNeverChangesTheInfohashes) {
    auto bytes = ReadFile(std::string(FWCHAIN_SOURCE_DIR) +
                          "/tests/fuzz/corpus/torrent/crash-info-rewritten");
    ASSERT_TRUE(bytes) << bytes.error().ToString();
    auto info = ReadTorrentInfo(*bytes);
    ASSERT_TRUE(info) << "the input no longer parses: the test would prove nothing";
    auto with = TorrentWithUrls(*bytes, "http://127.0.0.1/announce", "http://127.0.0.1/v1/x");
    if (!with) {
        EXPECT_EQ(with.error().reason, "bad-torrent");
        return;
    }
    auto again = ReadTorrentInfo(*with);
    ASSERT_TRUE(again) << "the torrent with URLs does not parse: " << again.error().ToString();
    EXPECT_EQ(again->infohash_v1, info->infohash_v1);
    EXPECT_EQ(again->infohash_v2, info->infohash_v2);
}

}  // namespace
}  // namespace fwchain::vendor
