// vendor-server end to end through the real executables on loopback.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <libtorrent/session.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <regex>

#include "common/adapters/http.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "tests/integration/system.hpp"
#include "tests/support/libtorrent.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::test {
namespace {

std::string Q(const std::string& s) { return "'" + s + "'"; }

// A key rotated on a live system: the ledger takes the root tx, a release signed by the new
// key is accepted, and a device pinned to root v1 walks the chain through its gateway.
TEST(VendorServerSystem, ADeviceWithRootV1UpdatesToAReleaseSignedByARotatedKey) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    sys.Tag("v1.1.0", "After rotation");
    sys.Start(1);
    const std::string dev = sys.Provision("cam-001");
    auto pub1 = sys.Publish("v1.0.0");
    ASSERT_EQ(0, pub1.exit_code) << pub1.err;
    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(), "1.0.0"));

    auto rot = fwchain::test::Run({Bin("vendor-server"), "rotate-release-key", "--data",
                                   sys.vendor_dir(), "--ledger", sys.ledger_url(), "--json"});
    ASSERT_EQ(0, rot.exit_code) << rot.err << rot.out;
    auto j = ParseJson(rot.out);
    ASSERT_TRUE(j) << rot.out;
    EXPECT_EQ(2u, (*j)["version"].get<std::uint64_t>());
    // Keys are never printed: only public key ids.
    auto key = LoadJsonFile(sys.vendor_dir() + "/keys/release.key");
    ASSERT_TRUE(key);
    EXPECT_EQ(std::string::npos, rot.out.find((*key)["private"].get<std::string>()));
    struct stat st {};
    ASSERT_EQ(0, ::stat((sys.vendor_dir() + "/keys/release.key").c_str(), &st));
    EXPECT_EQ(0600u, st.st_mode & 0777u);
    ASSERT_TRUE(sys.WaitForLedger("type=root", 1));

    auto pub2 = sys.Publish("v1.1.0");
    ASSERT_EQ(0, pub2.exit_code) << pub2.err << pub2.out;
    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(), "1.1.0"));
    EXPECT_EQ(2u, sys.Sequence(dev));
    ASSERT_TRUE(sys.WaitForLedger("type=release&product=cam", 2));
    const Json releases = sys.Search("type=release&product=cam");
    for (const auto& r : releases) {
        if (r["tx"]["ver"] == "1.1.0") {
            EXPECT_EQ((*key)["public"], r["tx"]["sender"]);
        }
    }
}

class VendorCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto r = Shell("git init -q -b main " + Q(repo()) + " && cd " + Q(repo()) +
                       " && git config user.name 'Release CI' && git config user.email "
                       "ci@acme.example && head -c 200000 /dev/urandom > fw.bin && git add "
                       "fw.bin && git commit -qm one && git tag -a v1.0.0 -m 'First release'");
        ASSERT_EQ(0, r.exit_code) << r.err;
        auto init = fwchain::test::Run({Bin("vendor-server"), "init", "--data", data(), "--vendor",
                                        "acme", "--bits", "4", "--json"});
        ASSERT_EQ(0, init.exit_code) << init.err;
    }
    void TearDown() override {
        if (server_) server_->Stop();
    }
    std::string repo() const { return tmp_ / "repo"; }
    std::string data() const { return tmp_ / "vendor"; }

    // `serve` with extra flags; returns its URL from the "listening on" line.
    std::string Serve(const std::vector<std::string>& extra) {
        std::vector<std::string> argv = {
            Bin("vendor-server"), "serve",       "--data",   data(),
            "--listen",           "127.0.0.1:0", "--ledger", "http://127.0.0.1:1",
            "--bt-listen",        "127.0.0.1:0"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        server_ = std::make_unique<Process>(argv, tmp_ / "serve.log");
        std::string url;
        std::regex listening("listening on ([0-9.]+:[0-9]+)");
        WaitFor([&] {
            std::smatch m;
            const std::string log = server_->Log();
            if (std::regex_search(log, m, listening)) url = "http://" + m[1].str();
            return !url.empty() || !server_->Running();
        });
        EXPECT_FALSE(url.empty()) << server_->Log();
        return url;
    }
    Json JsonOf(const RunResult& r) {
        auto j = ParseJson(r.out);
        EXPECT_TRUE(j) << r.out << r.err;
        return j ? *j : Json();
    }

    TempDir tmp_;
    std::unique_ptr<Process> server_;
};

TEST_F(VendorCliTest, CiPublishesThroughTheAdminApiAndListShowsIt) {
    const std::string token_file = tmp_ / "token";
    ASSERT_TRUE(WriteFileAtomic(token_file, "s3cret-admin-token-for-ci\n", 0600));
    const std::string url = Serve({"--admin-token-file", token_file});
    ASSERT_FALSE(url.empty());
    const std::vector<std::string> publish = {Bin("vendor-server"),
                                              "publish",
                                              "--server",
                                              url,
                                              "--repo",
                                              repo(),
                                              "--tag",
                                              "v1.0.0",
                                              "--image",
                                              "tree:fw.bin",
                                              "--product",
                                              "cam",
                                              "--hardware",
                                              "rev-b",
                                              "--json"};

    auto wrong = publish;
    wrong.insert(wrong.end(), {"--token", "not-the-admin-token-at-all"});
    auto refused = fwchain::test::Run(wrong);
    EXPECT_EQ(1, refused.exit_code);
    EXPECT_NE(std::string::npos, refused.err.find("unauthorized")) << refused.err;

    auto right = publish;
    right.insert(right.end(), {"--token-file", token_file});
    auto ok = fwchain::test::Run(right);
    ASSERT_EQ(0, ok.exit_code) << ok.err;
    EXPECT_EQ(1u, JsonOf(ok)["sequence"].get<std::uint64_t>());

    auto list = fwchain::test::Run({Bin("vendor-server"), "list", "--data", data(), "--json"});
    ASSERT_EQ(0, list.exit_code) << list.err;
    const Json l = JsonOf(list);
    ASSERT_EQ(1u, l["products"].size());
    EXPECT_EQ("1.0.0", l["products"][0]["latest_version"]);
    auto show =
        fwchain::test::Run({Bin("vendor-server"), "show", "--data", data(), "cam", "--json"});
    ASSERT_EQ(0, show.exit_code) << show.err;
    EXPECT_EQ("First release", JsonOf(show)["releases"][0]["source"]["notes"]);
    auto unknown = fwchain::test::Run({Bin("vendor-server"), "show", "--data", data(), "toaster"});
    EXPECT_EQ(1, unknown.exit_code);
    EXPECT_NE(std::string::npos, unknown.err.find("unknown-product")) << unknown.err;

    // The served manifest is what a gateway sees.
    auto client = http::Client::For(url);
    ASSERT_TRUE(client);
    auto manifests = client->GetJson("/v1/manifests/cam");
    ASSERT_TRUE(manifests);
    EXPECT_EQ(1u, (*manifests)["manifests"].size());
}

TEST_F(VendorCliTest, TheExampleCiHookPublishesTheTagAtHead) {
    const std::string token_file = tmp_ / "token";
    ASSERT_TRUE(WriteFileAtomic(token_file, "hook-admin-token-0123456789", 0600));
    const std::string url = Serve({"--admin-token-file", token_file});
    ASSERT_FALSE(url.empty());
    const std::string hook = std::string(FWCHAIN_SOURCE_DIR) + "/scripts/ci-publish-hook";
    const std::string env =
        "FWCHAIN_SERVER=" + url +
        " FWCHAIN_PRODUCT=cam FWCHAIN_HARDWARE='rev-a rev-b'"
        " FWCHAIN_IMAGE=tree:fw.bin GITHUB_REF_TYPE= CI_COMMIT_TAG= VENDOR_SERVER=" +
        Q(Bin("vendor-server"));
    auto wrong = Shell("cd " + Q(repo()) + " && " + env +
                       " FWCHAIN_ADMIN_TOKEN=wrong-token-0123456789 " + Q(hook));
    EXPECT_EQ(1, wrong.exit_code) << wrong.out << wrong.err;
    auto ok = Shell("cd " + Q(repo()) + " && " + env +
                    " FWCHAIN_ADMIN_TOKEN=hook-admin-token-0123456789 " + Q(hook));
    ASSERT_EQ(0, ok.exit_code) << ok.out << ok.err;
    EXPECT_NE(std::string::npos, ok.out.find("\"sequence\": 1")) << ok.out;
    // An untagged HEAD is not a release: nothing to do, success.
    auto untagged = Shell("cd " + Q(repo()) + " && git commit -q --allow-empty -m wip && " + env +
                          " FWCHAIN_ADMIN_TOKEN=hook-admin-token-0123456789 " + Q(hook));
    EXPECT_EQ(0, untagged.exit_code) << untagged.err;
    EXPECT_NE(std::string::npos, untagged.out.find("nothing to publish"));
    auto list = fwchain::test::Run({Bin("vendor-server"), "list", "--data", data(), "--json"});
    EXPECT_EQ(1u, JsonOf(list)["products"][0]["releases"].get<std::uint64_t>());
}

TEST_F(VendorCliTest, ALibtorrentSessionDownloadsFromServesWebSeed) {
    auto pub = fwchain::test::Run({Bin("vendor-server"), "publish", "--data", data(), "--repo",
                                   repo(), "--tag", "v1.0.0", "--image", "tree:fw.bin", "--product",
                                   "cam", "--hardware", "rev-b", "--json"});
    ASSERT_EQ(0, pub.exit_code) << pub.err;
    const std::string sha = JsonOf(pub)["sha256"];
    const std::string url = Serve({});
    ASSERT_FALSE(url.empty());
    auto client = http::Client::For(url);
    ASSERT_TRUE(client);
    auto torrent = client->GetText("/v1/torrents/" + sha + ".torrent");
    ASSERT_TRUE(torrent) << torrent.error().ToString();

    lt::settings_pack sp = test::LoopbackTorrentSettings();
    lt::session ses(sp);
    lt::error_code ec;
    lt::add_torrent_params atp;
    atp.ti = std::make_shared<lt::torrent_info>(*torrent, ec, lt::from_span);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(1u, atp.ti->web_seeds().size());
    EXPECT_EQ(url + "/v1/images/" + sha, atp.ti->web_seeds()[0].url);
    atp.save_path = tmp_ / "dl";
    auto h = ses.add_torrent(std::move(atp), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(WaitFor([&] { return h.status().is_seeding; }, std::chrono::seconds(120)));
    auto got = Sha256File(tmp_ / ("dl/" + sha));
    ASSERT_TRUE(got);
    EXPECT_EQ(sha, *got);
}

TEST_F(VendorCliTest, WatchPublishesANewTagOnce) {
    auto watch = std::make_unique<Process>(
        std::vector<std::string>{Bin("vendor-server"), "watch", "--data", data(), "--repo", repo(),
                                 "--pattern", "v*", "--image-path", "fw.bin", "--product", "cam",
                                 "--hardware", "rev-b", "--interval", "1"},
        tmp_ / "watch.log");
    auto latest = [&]() -> std::string {
        auto list = fwchain::test::Run({Bin("vendor-server"), "list", "--data", data(), "--json"});
        auto j = ParseJson(list.out);
        if (!j || (*j)["products"].empty()) return "";
        return (*j)["products"][0]["latest_version"].get<std::string>() + "/" +
               std::to_string((*j)["products"][0]["releases"].get<std::uint64_t>());
    };
    ASSERT_TRUE(WaitFor([&] { return latest() == "1.0.0/1"; })) << watch->Log();
    auto r = Shell("cd " + Q(repo()) +
                   " && head -c 1000 /dev/urandom > fw.bin && git commit -qam two && git tag -a "
                   "v1.1.0 -m 'Second'");
    ASSERT_EQ(0, r.exit_code) << r.err;
    ASSERT_TRUE(WaitFor([&] { return latest() == "1.1.0/2"; })) << watch->Log();
    // Published once: later scans find nothing new (the log names it once).
    ASSERT_TRUE(WaitFor([&] {
        const std::string log = watch->Log();
        return log.find("published cam 1.1.0") != std::string::npos;
    }));
    watch->Stop();
    const std::string log = watch->Log();
    EXPECT_EQ(log.find("published cam 1.1.0"), log.rfind("published cam 1.1.0")) << log;
    EXPECT_EQ("1.1.0/2", latest());
}

}  // namespace
}  // namespace fwchain::test
