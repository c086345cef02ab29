// Runs the real `ledger` executable: node on port 0, then the query subcommands against it.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "common/adapters/http.hpp"
#include "fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

using test::Bin;

class LedgerCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 100);
        ASSERT_TRUE(WriteFileAtomic(dir_ / "genesis.json", genesis_.ToJson().dump(2)));
        ASSERT_TRUE(k_.miner.Save(dir_ / "miner.key"));
        ASSERT_TRUE(k_.outsider.Save(dir_ / "outsider.key"));
    }

    std::vector<std::string> NodeArgs(const std::string& key, const std::string& hash) {
        return {Bin("ledger"), "node",      "--data",  dir_ / "data",    "--listen",
                "127.0.0.1:0", "--genesis", hash,      "--genesis-file", dir_ / "genesis.json",
                "--mine",      "--key",     dir_ / key};
    }

    // Starts the node and returns its URL, read from the "listening on" line.
    std::string StartNode() {
        // A fresh log per start, so an old "listening on" line is never read.
        node_ =
            std::make_unique<test::Process>(NodeArgs("miner.key", ToHex(genesis_.Hash())),
                                            dir_ / ("node" + std::to_string(++starts_) + ".log"));
        std::string url;
        const std::regex listening("listening on ([0-9.]+:[0-9]+)");
        test::WaitFor([&] {
            std::smatch m;
            const std::string log = node_->Log();
            if (std::regex_search(log, m, listening)) url = "http://" + m[1].str();
            return !url.empty() || !node_->Running();
        });
        return url;
    }

    testing::Keys k_;
    test::TempDir dir_;
    Block genesis_;
    std::unique_ptr<test::Process> node_;
    int starts_ = 0;
};

TEST_F(LedgerCliTest, NodeServesTipAndSearch) {
    const std::string url = StartNode();
    ASSERT_FALSE(url.empty()) << node_->Log();

    auto tip = test::Run({Bin("ledger"), "tip", "--node", url, "--json"});
    ASSERT_EQ(tip.exit_code, 0) << tip.err;
    auto tip_json = ParseJson(tip.out);
    ASSERT_TRUE(tip_json);
    EXPECT_EQ((*tip_json)["hash"], ToHex(genesis_.Hash()));

    {
        auto client = http::Client::For(url);
        ASSERT_TRUE(client);
        const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
        ASSERT_TRUE(client->PostJson("/v1/tx", release.ToJson()));
    }
    ASSERT_TRUE(test::WaitFor([&] {
        auto r = test::Run({Bin("ledger"), "search", "--node", url, "--type", "release", "--json"});
        auto j = ParseJson(r.out);
        return r.exit_code == 0 && j && j->size() == 1 && (*j)[0].value("confirmations", 0) >= 2;
    }));

    auto table = test::Run({Bin("ledger"), "search", "--node", url, "--product", "cam"});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_NE(table.out.find("HEIGHT"), std::string::npos);
    EXPECT_NE(table.out.find("release"), std::string::npos);
    EXPECT_NE(table.out.find("1.0.0"), std::string::npos);
    // Which key mined the release's block: the genesis miner (no admission).
    EXPECT_NE(table.out.find("MINED BY"), std::string::npos);
    EXPECT_NE(table.out.find("genesis:" + k_.miner.PublicHex().substr(0, 8)), std::string::npos)
        << table.out;
    auto tip_text = test::Run({Bin("ledger"), "tip", "--node", url});
    ASSERT_EQ(tip_text.exit_code, 0) << tip_text.err;
    EXPECT_NE(tip_text.out.find("miner  " + k_.miner.PublicHex()), std::string::npos)
        << tip_text.out;

    auto csv = test::Run({Bin("ledger"), "export", "--node", url, "--format", "csv"});
    ASSERT_EQ(csv.exit_code, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("height,id,type,", 0), 0u) << csv.out;
    EXPECT_NE(csv.out.find(",release,"), std::string::npos) << csv.out;
    EXPECT_NE(csv.out.find(",genesis,"), std::string::npos) << csv.out;
    auto jsonl = test::Run({Bin("ledger"), "export", "--node", url, "--format", "jsonl"});
    ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
    EXPECT_TRUE(ParseJson(jsonl.out.substr(0, jsonl.out.find('\n'))));
    auto status = test::Run({Bin("ledger"), "status", "--node", url, "--product", "cam"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    EXPECT_NE(status.out.find("VERSION"), std::string::npos) << status.out;
    auto history =
        test::Run({Bin("ledger"), "history", "--node", url, "--device", "nobody", "--json"});
    ASSERT_EQ(history.exit_code, 0) << history.err;
    EXPECT_EQ(ParseJson(history.out).value().size(), 0u);

    node_->Stop();
    EXPECT_FALSE(node_->Running());
    auto verify = test::Run(
        {Bin("ledger"), "verify", "--data", dir_ / "data", "--genesis", ToHex(genesis_.Hash())});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_NE(verify.out.find("ok:"), std::string::npos) << verify.out;
    auto wrong = test::Run(
        {Bin("ledger"), "verify", "--data", dir_ / "data", "--genesis", std::string(64, 'a')});
    EXPECT_EQ(wrong.exit_code, 1) << wrong.out;
    EXPECT_NE(wrong.out.find("INVALID block at height 0"), std::string::npos) << wrong.out;
    // A restart on the same data dir keeps the chain.
    const std::string url2 = StartNode();
    ASSERT_FALSE(url2.empty()) << node_->Log();
    auto tip2 = test::Run({Bin("ledger"), "tip", "--node", url2, "--json"});
    ASSERT_EQ(tip2.exit_code, 0);
    EXPECT_GE(ParseJson(tip2.out).value()["height"].get<int>(), 2);
}

// A failed report without a version (older devices sent "" when no manifest was verified) used to
// print a row whose VERSION column was empty.
TEST_F(LedgerCliTest, StatusNamesTheRowOfReportsWithoutAVersion) {
    const std::string url = StartNode();
    ASSERT_FALSE(url.empty()) << node_->Log();
    auto client = http::Client::For(url);
    ASSERT_TRUE(client);
    const Tx admit = testing::AdmitTx(k_.admission, "dev-1", k_.device, "device");
    ASSERT_TRUE(client->PostJson("/v1/tx", admit.ToJson()));
    ASSERT_TRUE(test::WaitFor([&] {
        auto r = client->GetJson("/v1/tx/" + admit.Id());
        return r && (*r)["height"].is_number();
    }));
    ASSERT_TRUE(client->PostJson("/v1/tx", testing::UpdateTx(k_.device, "dev-1", 1).ToJson()));
    ASSERT_TRUE(client->PostJson("/v1/tx",
                                 testing::UpdateTx(k_.device, "dev-1", 2, "failed", "").ToJson()));
    ASSERT_TRUE(test::WaitFor([&] {
        auto r = client->GetJson("/v1/status?product=cam");
        return r && (*r)["failures"].contains("");
    }));
    auto status = test::Run({Bin("ledger"), "status", "--node", url, "--product", "cam"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    EXPECT_NE(status.out.find("(no version)"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("1.0.0"), std::string::npos) << status.out;
    // No line of the version table starts with blanks (an empty VERSION column).
    std::istringstream lines(status.out);
    std::string line;
    bool in_table = false;
    while (std::getline(lines, line)) {
        if (line.rfind("VERSION", 0) == 0) {
            in_table = true;
            continue;
        }
        if (line.empty()) in_table = false;
        if (in_table) {
            EXPECT_NE(line[0], ' ') << status.out;
        }
    }
}

TEST_F(LedgerCliTest, RefusesBadGenesisAndBadUsage) {
    auto wrong = test::Run(NodeArgs("miner.key", std::string(64, 'a')));
    EXPECT_EQ(wrong.exit_code, 1);
    EXPECT_NE(wrong.err.find("genesis-mismatch"), std::string::npos) << wrong.err;

    // An unadmitted miner key is not an error: the node runs and mines once admitted
    // (MultiNodeTest.AGatewayMinesOnceAdmittedAndStopsWhenRevokedWithoutExiting).

    EXPECT_EQ(test::Run({Bin("ledger"), "search"}).exit_code, 2);
    EXPECT_EQ(test::Run({Bin("ledger"), "frobnicate"}).exit_code, 2);
    EXPECT_EQ(test::Run({Bin("ledger"), "--help"}).exit_code, 0);
    // Nothing listens on port 1: a clear error, exit 1.
    auto down = test::Run({Bin("ledger"), "tip", "--node", "http://127.0.0.1:1"});
    EXPECT_EQ(down.exit_code, 1);
    EXPECT_FALSE(down.err.empty());
}

}  // namespace
}  // namespace fwchain::ledger
