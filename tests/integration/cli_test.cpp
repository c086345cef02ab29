// The four programs' command lines, run as real executables: --config files (CLI11's TOML:
// keys are the long flags; flags override the file; an unknown key is a usage error naming
// it), the example configs in docs/config, unknown flags named before missing ones, and each
// --help showing its defaults and only its own exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>
#include <string>
#include <vector>

#include "common/core/fs.hpp"
#include "common/core/json.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain {
namespace {

using test::Bin;
using test::RunResult;

std::string Source(const std::string& rel) { return std::string(FWCHAIN_SOURCE_DIR) + "/" + rel; }

// Every command that reads a config file, with the example config shipped for it.
struct ConfigCommand {
    std::string program;
    std::string command;
    std::string example;  // docs/config/<example>.toml, or "" when none is shipped
};
const std::vector<ConfigCommand> kConfigCommands = {
    {"ledger", "node", "ledger"},
    {"gateway", "run", "gateway"},
    {"vendor-server", "serve", "vendor-server"},
    {"vendor-server", "watch", "vendor-watch"},
    {"device-agent", "boot", "device-agent"},
    {"device-agent", "fleet", ""},
};

// Every subcommand of every program.
const std::vector<std::pair<std::string, std::vector<std::string>>> kCommands = {
    {"ledger",
     {"node", "search", "tip", "status", "history", "verify", "export", "approve", "rollout",
      "keygen", "submit"}},
    {"gateway", {"run", "status"}},
    {"vendor-server",
     {"init", "publish", "sign-release", "release-staged", "watch", "list", "show", "rotate-root",
      "rotate-release-key", "rotate-key", "revoke-key", "add-key", "revoke", "provision",
      "admit-gateway", "serve"}},
    {"device-agent", {"boot", "status", "fleet"}},
};

std::string Both(const RunResult& r) { return "stdout:\n" + r.out + "\nstderr:\n" + r.err; }

class CliConfigTest : public ::testing::Test {
  protected:
    // A vendor (genesis block and hash) for a ledger node to start from.
    void SetUp() override {
        auto init = test::Run({Bin("vendor-server"), "init", "--data", tmp_ / "vendor", "--vendor",
                               "acme", "--bits", "8", "--json"});
        ASSERT_EQ(init.exit_code, 0) << Both(init);
        genesis_ = ParseJson(init.out).value()["genesis_hash"].template get<std::string>();
    }
    std::string Write(const std::string& name, const std::string& text) {
        const std::string path = tmp_ / name;
        EXPECT_TRUE(WriteFileAtomic(path, text));
        return path;
    }
    test::TempDir tmp_;
    std::string genesis_;
};

// The file sets the node's options; a flag on the command line wins over the file's key.
TEST_F(CliConfigTest, ConfigFileSetsOptionsAndAFlagOverridesIt) {
    std::string text = "# a node from a config file\n";
    text += "data = \"" + tmp_ / "data-from-file" + "\"\n";
    text += "listen = \"127.0.0.1:0\"\n";
    text += "genesis = \"" + genesis_ + "\"\n";
    text += "genesis-file = \"" + tmp_ / "vendor/genesis.json" + "\"\n";
    text += "sync-interval-ms = 1000\nmine = false\n";
    const std::string config = Write("ledger.toml", text);
    test::Process node(
        {Bin("ledger"), "node", "--config", config, "--data", tmp_ / "data-from-flag"},
        tmp_ / "node.log");
    const std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
    std::smatch m;
    std::string log;
    ASSERT_TRUE(test::WaitFor([&] {
        log = node.Log();
        return std::regex_search(log, m, listening) || !node.Running();
    }));
    ASSERT_TRUE(std::regex_search(log, m, listening)) << log;
    EXPECT_NE(m[1].str(), "0");
    EXPECT_TRUE(FileExists(tmp_ / "data-from-flag/ledger.sqlite")) << log;
    EXPECT_FALSE(FileExists(tmp_ / "data-from-file")) << "the file's data dir won over --data";
    node.Stop();
}

// A misspelled key stops every config-reading command with exit code 2 and the key's name,
// before it does anything else (here: before the required options are even looked at).
TEST_F(CliConfigTest, AMisspelledKeyIsAUsageErrorNamingIt) {
    const std::string config = Write("bad.toml", "# the data dir\ndaat = \"/tmp/x\"\n");
    for (const auto& c : kConfigCommands) {
        auto r = test::Run({Bin(c.program), c.command, "--config", config});
        EXPECT_EQ(r.exit_code, 2) << c.program << " " << c.command << "\n" << Both(r);
        EXPECT_NE(r.err.find("\"daat\""), std::string::npos)
            << c.program << " " << c.command << "\n"
            << Both(r);
        EXPECT_EQ(r.err.find("is required"), std::string::npos) << Both(r);
    }
    // A [section] is not a key of the command either.
    const std::string sectioned = Write("sectioned.toml", "[node]\ndata = \"/tmp/x\"\n");
    auto r = test::Run({Bin("ledger"), "node", "--config", sectioned});
    EXPECT_EQ(r.exit_code, 2) << Both(r);
    EXPECT_NE(r.err.find("[node]"), std::string::npos) << Both(r);
}

// A missing file and a value its option refuses are usage errors naming the file / option.
TEST_F(CliConfigTest, AMissingFileOrABadValueIsAUsageError) {
    auto missing = test::Run({Bin("gateway"), "run", "--config", tmp_ / "nope.toml"});
    EXPECT_EQ(missing.exit_code, 2) << Both(missing);
    EXPECT_NE(missing.err.find(tmp_ / "nope.toml"), std::string::npos) << Both(missing);

    const std::string config = Write("threads.toml", "mining-threads = 0\n");
    auto bad = test::Run({Bin("ledger"), "node", "--config", config, "--data", tmp_ / "d",
                          "--genesis", genesis_, "--genesis-file", tmp_ / "vendor/genesis.json"});
    EXPECT_EQ(bad.exit_code, 2) << Both(bad);
    EXPECT_NE(bad.err.find("mining-threads"), std::string::npos) << Both(bad);
    EXPECT_FALSE(FileExists(tmp_ / "d/ledger.sqlite"));

    // A command that reads no config file says so.
    auto search = test::Run({Bin("ledger"), "--config", config, "search", "--node", "http://x:1"});
    EXPECT_EQ(search.exit_code, 2) << Both(search);
}

// Every example config in docs/config (installed as /etc/fwchain/*.toml by the packages) holds
// only keys its command knows: `--help` answers only after the file was read and checked. The
// same file with one key misspelled fails, so the check can fail.
TEST(CliExampleConfigs, EveryKeyIsAnOptionOfItsCommand) {
    test::TempDir tmp;
    for (const auto& c : kConfigCommands) {
        if (c.example.empty()) continue;
        const std::string path = Source("docs/config/" + c.example + ".toml");
        auto text = ReadFile(path, 1 << 20);
        ASSERT_TRUE(text) << path;
        auto ok = test::Run({Bin(c.program), c.command, "--config", path, "--help"});
        EXPECT_EQ(ok.exit_code, 0) << path << "\n" << Both(ok);

        // Misspell the first key of the file.
        const std::regex first_key("^([a-z-]+) =", std::regex::multiline);
        std::smatch m;
        ASSERT_TRUE(std::regex_search(*text, m, first_key)) << path;
        const std::string misspelled = m[1].str() + "x";
        const std::string bad = tmp / (c.example + ".toml");
        ASSERT_TRUE(WriteFileAtomic(
            bad, text->substr(0, static_cast<std::size_t>(m.position(1))) + misspelled +
                     text->substr(static_cast<std::size_t>(m.position(1) + m.length(1)))));
        auto r = test::Run({Bin(c.program), c.command, "--config", bad, "--help"});
        EXPECT_EQ(r.exit_code, 2) << bad << "\n" << Both(r);
        EXPECT_NE(r.err.find("\"" + misspelled + "\""), std::string::npos) << Both(r);
    }
}

// `ledger node --foo` used to answer "--data is required": the unknown flag is named, on every
// program, whatever else is missing.
TEST(CliUnknownFlags, AreNamedBeforeMissingRequiredOptions) {
    for (const auto& [program, commands] : kCommands) {
        for (const auto& command : commands) {
            auto r = test::Run({Bin(program), command, "--foo"});
            EXPECT_EQ(r.exit_code, 2) << program << " " << command << "\n" << Both(r);
            EXPECT_NE(r.err.find("--foo"), std::string::npos) << program << " " << command << "\n"
                                                              << Both(r);
            EXPECT_EQ(r.err.find("is required"), std::string::npos)
                << program << " " << command << "\n"
                << Both(r);
        }
    }
    auto top = test::Run({Bin("ledger"), "--foo", "node"});
    EXPECT_EQ(top.exit_code, 2);
    EXPECT_NE(top.err.find("--foo"), std::string::npos) << Both(top);
    // A missing required option alone is still reported as such.
    auto missing = test::Run({Bin("ledger"), "tip"});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("--node is required"), std::string::npos) << Both(missing);
}

// Each --help lists its exit codes, and only its own: boot's 10 and 20 are not status's or
// fleet's; publish's 3 (staged) is publish's alone.
TEST(CliHelp, ShowsDefaultsAndOnlyItsOwnExitCodes) {
    for (const auto& [program, commands] : kCommands) {
        for (const auto& command : commands) {
            auto r = test::Run({Bin(program), command, "--help"});
            ASSERT_EQ(r.exit_code, 0) << program << " " << command << "\n" << Both(r);
            EXPECT_NE(r.out.find("Exit codes:"), std::string::npos)
                << program << " " << command << "\n"
                << r.out;
            const bool boot = program == "device-agent" && command == "boot";
            EXPECT_EQ(r.out.find("reboot into it") != std::string::npos, boot)
                << program << " " << command << "\n"
                << r.out;
            const bool publish = program == "vendor-server" && command == "publish";
            EXPECT_EQ(r.out.find("3 staged") != std::string::npos, publish)
                << program << " " << command << "\n"
                << r.out;
        }
    }
    // Defaults, e.g. of `ledger node`, which showed none.
    auto node = test::Run({Bin("ledger"), "node", "--help"});
    for (const std::string want :
         {"=127.0.0.1:7400", "=5000", "--ban-seconds UINT=60", "--config", "HTTP limits"}) {
        EXPECT_NE(node.out.find(want), std::string::npos) << want << "\n" << node.out;
    }
    auto gw = test::Run({Bin("gateway"), "run", "--help"});
    EXPECT_NE(gw.out.find("=86400"), std::string::npos) << gw.out;
    // The swarm's upload cap, windows and web-seed delay, and the vendor's BitTorrent seeder.
    for (const std::string want :
         {"--swarm-upload-limit RATE=0", "--swarm-window HH:MM-HH:MM", "Default: no window",
          "--bt-web-seed-delay INT:NONNEGATIVE=10"}) {
        EXPECT_NE(gw.out.find(want), std::string::npos) << want << "\n" << gw.out;
    }
    auto serve = test::Run({Bin("vendor-server"), "serve", "--help"});
    for (const std::string want : {"--bt-listen TEXT=0.0.0.0:7411", "--no-bittorrent"}) {
        EXPECT_NE(serve.out.find(want), std::string::npos) << want << "\n" << serve.out;
    }
    auto status = test::Run({Bin("ledger"), "status", "--help"});
    EXPECT_NE(status.out.find("]=0"), std::string::npos) << status.out;
}

// `publish --server` draws its upload progress on stderr when stderr is a terminal (run under
// script(1), which gives it a pty), and prints none into a pipe (a CI log).
TEST(CliPublishProgress, OnATerminalOnly) {
    test::TempDir tmp;
    ASSERT_EQ(test::Run({Bin("vendor-server"), "init", "--data", tmp / "vendor", "--vendor", "acme",
                         "--bits", "8"})
                  .exit_code,
              0);
    ASSERT_TRUE(WriteFileAtomic(tmp / "token", "t0k3n-for-the-test\n"));
    ASSERT_EQ(::chmod((tmp / "token").c_str(), 0600), 0);
    std::string image(3 * 1024 * 1024, 'x');
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<char>(i * 7 % 251);
    const std::string repo = tmp / "fw";
    ASSERT_EQ(test::Run({"/usr/bin/git", "init", "-q", repo}).exit_code, 0);
    ASSERT_TRUE(WriteFileAtomic(repo + "/fw.bin", image));
    const std::vector<std::string> git = {
        "/usr/bin/git", "-C", repo, "-c", "user.name=ci", "-c", "user.email=ci@fwchain.invalid"};
    auto g = [&](std::vector<std::string> args) {
        args.insert(args.begin(), git.begin(), git.end());
        return test::Run(args).exit_code;
    };
    ASSERT_EQ(g({"add", "fw.bin"}), 0);
    ASSERT_EQ(g({"commit", "-qm", "fw"}), 0);
    ASSERT_EQ(g({"tag", "-a", "v1.0.0", "-m", "one"}), 0);
    ASSERT_EQ(g({"tag", "-a", "v1.1.0", "-m", "two"}), 0);

    test::Process serve({Bin("vendor-server"), "serve", "--data", tmp / "vendor", "--listen",
                         "127.0.0.1:0", "--bt-listen", "127.0.0.1:0", "--ledger",
                         "http://127.0.0.1:" + std::to_string(test::FreePort()),
                         "--admin-token-file", tmp / "token"},
                        tmp / "serve.log");
    const std::regex listening("listening on (127\\.0\\.0\\.1:[0-9]+)");
    std::smatch m;
    std::string log;
    ASSERT_TRUE(test::WaitFor([&] {
        log = serve.Log();
        return std::regex_search(log, m, listening) || !serve.Running();
    }));
    ASSERT_TRUE(std::regex_search(log, m, listening)) << log;
    const std::string url = "http://" + m[1].str();
    auto publish = [&](const std::string& tag) {
        return std::vector<std::string>{Bin("vendor-server"),
                                        "publish",
                                        "--server",
                                        url,
                                        "--token-file",
                                        tmp / "token",
                                        "--repo",
                                        repo,
                                        "--tag",
                                        tag,
                                        "--image",
                                        repo + "/fw.bin",
                                        "--product",
                                        "cam",
                                        "--hardware",
                                        "rev-b"};
    };

    auto piped = test::Run(publish("v1.0.0"));
    ASSERT_EQ(piped.exit_code, 0) << Both(piped);
    EXPECT_EQ(piped.err.find("uploading"), std::string::npos) << Both(piped);

    std::string command;
    for (const auto& a : publish("v1.1.0")) command += "'" + a + "' ";
    auto tty = test::Run({"/usr/bin/script", "-qec", command, "/dev/null"});
    ASSERT_EQ(tty.exit_code, 0) << Both(tty);
    EXPECT_NE(tty.out.find("\ruploading 0.0 MiB of 3.0 MiB (0%)"), std::string::npos) << tty.out;
    EXPECT_NE(tty.out.find("\ruploading 3.0 MiB of 3.0 MiB (100%)"), std::string::npos) << tty.out;
    EXPECT_NE(tty.out.find("published cam 1.1.0"), std::string::npos) << tty.out;
}

// A rate or a window that does not parse is a usage error naming the value, before anything runs.
TEST(CliSwarmFlags, ABadRateOrWindowIsAUsageError) {
    for (const std::vector<std::string>& bad :
         {std::vector<std::string>{"--swarm-upload-limit", "2 furlongs"},
          std::vector<std::string>{"--swarm-window", "22:00-25:00"},
          std::vector<std::string>{"--swarm-window", "22:00-06:00", "--swarm-window", "noon"}}) {
        std::vector<std::string> argv = {Bin("gateway"),    "run",      "--data",
                                         "/nonexistent/gw", "--vendor", "http://127.0.0.1:1"};
        argv.insert(argv.end(), bad.begin(), bad.end());
        auto r = test::Run(argv);
        EXPECT_EQ(r.exit_code, 2) << Both(r);
        EXPECT_NE(r.err.find(bad.back()), std::string::npos) << Both(r);
    }
}

}  // namespace
}  // namespace fwchain
