// Runs the real vendor-server executable: exit codes, messages, and `serve` lifecycle.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <regex>

#include "common/core/fs.hpp"
#include "common/core/json.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/vendor-server/fixture.hpp"

namespace fwchain::vendor {
namespace {

// Runs vendor-server with the given arguments.
fwchain::test::RunResult Vs(std::vector<std::string> args) {
    args.insert(args.begin(), fwchain::test::Bin("vendor-server"));
    return fwchain::test::Run(args);
}

class CliTest : public test::VendorFixture {};

TEST(VendorCli, HelpAndUsage) {
    auto help = Vs({"--help"});
    EXPECT_EQ(0, help.exit_code);
    EXPECT_NE(std::string::npos, help.out.find("publish"));
    auto sub_help = Vs({"publish", "--help"});
    EXPECT_EQ(0, sub_help.exit_code);
    EXPECT_NE(std::string::npos, sub_help.out.find("--allow-lightweight"));
    EXPECT_EQ(2, Vs({}).exit_code);
    EXPECT_EQ(2, Vs({"init", "--data", "/tmp/x"}).exit_code);
    EXPECT_EQ(2, Vs({"frobnicate"}).exit_code);
}

TEST(VendorCli, InitPrintsTheGenesisAndRefusesToRunTwice) {
    fwchain::test::TempDir tmp;
    auto r = Vs({"init", "--data", tmp / "v", "--vendor", "acme", "--bits", "4", "--json"});
    ASSERT_EQ(0, r.exit_code) << r.err;
    auto j = ParseJson(r.out);
    ASSERT_TRUE(j) << r.out;
    auto cfg = LoadJsonFile(tmp / "v/config.json");
    ASSERT_TRUE(cfg);
    EXPECT_EQ(cfg->at("genesis_hash"), j->at("genesis_hash"));
    // Keys are never printed.
    auto root_key = LoadJsonFile(tmp / "v/keys/root.key");
    ASSERT_TRUE(root_key);
    EXPECT_EQ(std::string::npos, r.out.find(root_key->at("private").get<std::string>()));

    auto again = Vs({"init", "--data", tmp / "v", "--vendor", "acme"});
    EXPECT_EQ(1, again.exit_code);
    EXPECT_NE(std::string::npos, again.err.find("exists")) << again.err;
    EXPECT_EQ(1, std::count(again.err.begin(), again.err.end(), '\n')) << again.err;
}

TEST_F(CliTest, PublishReportsRefusalsWithExitCode1) {
    auto ok = Vs({"publish", "--data", data(), "--repo", repo_->path(), "--tag", "v1.0.0",
                  "--image", "tree:fw.bin", "--product", "cam", "--hardware", "rev-a", "--json"});
    ASSERT_EQ(0, ok.exit_code) << ok.err;
    auto j = ParseJson(ok.out);
    ASSERT_TRUE(j) << ok.out;
    EXPECT_EQ(1u, j->at("sequence").get<std::uint64_t>());

    auto light = Vs({"publish", "--data", data(), "--repo", repo_->path(), "--tag", "v1.2.0",
                     "--image", "tree:fw.bin", "--product", "cam", "--hardware", "rev-a"});
    EXPECT_EQ(1, light.exit_code);
    EXPECT_NE(std::string::npos, light.err.find("lightweight-tag")) << light.err;
}

TEST_F(CliTest, ServeListensAndStopsOnSigterm) {
    const std::string log = tmp_ / "serve.log";
    fwchain::test::Process serve(
        {fwchain::test::Bin("vendor-server"), "serve", "--data", data(), "--listen", "127.0.0.1:0",
         "--ledger", "http://127.0.0.1:" + std::to_string(fwchain::test::FreePort()), "--log-level",
         "info", "--bt-listen", "127.0.0.1:0"},
        log);
    std::smatch m;
    const std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
    std::string text;
    ASSERT_TRUE(fwchain::test::WaitFor([&] {
        text = serve.Log();
        return std::regex_search(text, m, re);
    })) << text;
    const int port = std::stoi(m[1].str());
    httplib::Client cli("127.0.0.1", port);
    auto res = cli.Get("/v1/health");
    ASSERT_TRUE(res);
    EXPECT_EQ(200, res->status);

    ::kill(serve.pid(), SIGTERM);
    EXPECT_TRUE(fwchain::test::WaitFor([&] { return !serve.Running(); }, std::chrono::seconds(10)));
    EXPECT_NE(std::string::npos, serve.Log().find("stopped")) << serve.Log();
}

}  // namespace
}  // namespace fwchain::vendor

namespace fwchain::vendor {
namespace {

TEST_F(CliTest, KeyAndCatalogCommandsReportBadInputWithExitCode1) {
    auto bad_role = Vs({"rotate-key", "--data", data(), "--role", "bogus"});
    EXPECT_EQ(1, bad_role.exit_code);
    EXPECT_NE(std::string::npos, bad_role.err.find("bad-role")) << bad_role.err;
    auto nobody = Vs({"revoke", "--data", data()});
    EXPECT_EQ(1, nobody.exit_code);
    EXPECT_NE(std::string::npos, nobody.err.find("bad-subject")) << nobody.err;
    auto both = Vs({"revoke", "--data", data(), "--device", "a", "--gateway", "b"});
    EXPECT_EQ(2, both.exit_code);
    EXPECT_EQ(2, Vs({"publish", "--repo", repo_->path(), "--tag", "v1.0.0", "--image",
                     "tree:fw.bin", "--product", "cam", "--hardware", "rev-a"})
                     .exit_code);
    auto unknown = Vs({"show", "--data", data(), "cam"});
    EXPECT_EQ(1, unknown.exit_code);
    EXPECT_NE(std::string::npos, unknown.err.find("unknown-product")) << unknown.err;

    auto rot = Vs({"rotate-release-key", "--data", data()});
    ASSERT_EQ(0, rot.exit_code) << rot.err;
    EXPECT_NE(std::string::npos, rot.out.find("root v2")) << rot.out;
    auto release_key = LoadJsonFile(data() + "/keys/release.key");
    ASSERT_TRUE(release_key);
    EXPECT_EQ(std::string::npos, rot.out.find(release_key->at("private").get<std::string>()));
    auto list = Vs({"list", "--data", data()});
    ASSERT_EQ(0, list.exit_code) << list.err;
    EXPECT_NE(std::string::npos, list.out.find("root v2")) << list.out;
    auto once = Vs({"watch", "--data", data(), "--repo", repo_->path(), "--image-path", "fw.bin",
                    "--product", "cam", "--hardware", "rev-a", "--once"});
    ASSERT_EQ(0, once.exit_code) << once.err;
    EXPECT_NE(std::string::npos, once.out.find("published cam 1.1.0")) << once.out;
    EXPECT_NE(std::string::npos, once.out.find("lightweight-tag")) << once.out;
}

}  // namespace
}  // namespace fwchain::vendor
