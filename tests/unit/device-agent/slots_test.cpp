// The `command` slot backend with a simulated U-Boot made of small shell scripts: the scripts keep
// the bootloader environment in files (like fw_setenv/fw_printenv would in the U-Boot env) and
// `reboot` plays the bootloader's next power-on (boot counter, fallback).
#include "device-agent/slots.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "common/core/fs.hpp"
#include "device-agent/agent.hpp"
#include "device-agent/cli.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/device-agent/fake_gateway.hpp"
#include "tests/unit/device-agent/test_vendor.hpp"

namespace fwchain::device {
namespace {

using test::FakeGateway;
using test::Image;
using test::MakeImage;
using test::ReleaseSpec;
using test::TestVendor;

class CommandBackendTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = tmp_.path() + "/device";
        env_ = tmp_.path() + "/ubootenv";
        vendor_.Provision(dir_, "dev-0001");
        gw_.SetOnlyNewer(true);
        ASSERT_TRUE(MakeDirs(env_, 0755));
        for (const char* f : {"order=a", "try=0", "left=0", "booted=a"}) {
            const std::string kv = f;
            const auto eq = kv.find('=');
            ASSERT_TRUE(WriteFileAtomic(env_ + "/" + kv.substr(0, eq), kv.substr(eq + 1) + "\n"));
        }
        const std::string log = "echo \"$(basename \"$0\") $*\" >> " + env_ + "/calls\n";
        const std::string e = "E=" + env_ + "\n";
        Script("get_booted", e + "cat $E/booted\n");
        Script("mark_active", e + log + "echo $1 > $E/order; echo 1 > $E/try; echo $2 > $E/left\n");
        Script("mark_good", e + log + "echo $1 > $E/order; echo 0 > $E/try\n");
        Script("mark_bad",
               e + log +
                   "if [ \"$(cat $E/order)\" = $1 ]; then\n"
                   "  if [ $1 = a ]; then echo b > $E/order; else echo a > $E/order; fi\n"
                   "  echo 0 > $E/try\nfi\n");
        // The bootloader at the next power-on: consume a try, fall back when none is left.
        Script("reboot", e + log +
                             "o=$(cat $E/order)\n"
                             "if [ \"$(cat $E/try)\" = 1 ]; then\n"
                             "  l=$(cat $E/left)\n"
                             "  if [ $l -gt 0 ]; then echo $((l-1)) > $E/left\n"
                             "  else if [ $o = a ]; then o=b; else o=a; fi; echo $o > $E/order;"
                             " echo 0 > $E/try; fi\n"
                             "fi\n"
                             "echo $o > $E/booted\n");
        config_ = tmp_.path() + "/slots.json";
        const Json cfg{
            {"slots", {{"a", tmp_.path() + "/slot-a.img"}, {"b", tmp_.path() + "/slot-b.img"}}},
            {"get_booted", env_ + "/get_booted"},
            {"mark_active", env_ + "/mark_active"},
            {"mark_good", env_ + "/mark_good"},
            {"mark_bad", env_ + "/mark_bad"},
            {"reboot", env_ + "/reboot"},
            {"timeout_s", 10}};
        ASSERT_TRUE(WriteFileAtomic(config_, cfg.dump()));
    }

    void Script(const std::string& name, const std::string& body) {
        const std::string path = env_ + "/" + name;
        ASSERT_TRUE(WriteFileAtomic(path, "#!/bin/sh\n" + body));
        ASSERT_EQ(::chmod(path.c_str(), 0755), 0);
    }
    std::string Env(const std::string& key) {
        auto v = ReadFile(env_ + "/" + key, 4096);
        return v ? *v : "<missing>";
    }

    BootOptions Opts() {
        BootOptions o;
        o.state_dir = dir_;
        o.gateway_url = gw_.Url();
        o.fetch.max_attempts = 1;
        o.slot_backend = "command";
        o.slot_config = config_;
        return o;
    }

    void Offer(const Image& image) {
        ReleaseSpec spec;
        spec.sequence = 1;
        spec.version = "1.1.0";
        spec.sha256 = image.sha256;
        spec.size = image.bytes.size();
        gw_.SetImage(image.sha256, image.bytes);
        const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
        gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), listed);
    }

    fwchain::test::TempDir tmp_;
    std::string dir_, env_, config_;
    TestVendor vendor_;
    FakeGateway gw_;
};

TEST_F(CommandBackendTest, InstallsThroughTheScriptsAndCommits) {
    const Image image = MakeImage(40000, 3);
    Offer(image);
    BootResult first = RunBoot(Opts());
    ASSERT_EQ(first.outcome, Outcome::kRebootPending) << first.reason << ": " << first.message;
    EXPECT_EQ(Env("calls"), "mark_bad b\nmark_active b 3\nreboot \n");
    EXPECT_EQ(Env("booted"), "b\n");  // the simulated bootloader picked the new slot
    EXPECT_EQ(Env("try"), "1\n");
    auto written = ReadFile(tmp_.path() + "/slot-b.img", 1 << 20);
    ASSERT_TRUE(written);
    EXPECT_EQ(*written, image.bytes);

    BootResult second = RunBoot(Opts());
    ASSERT_EQ(second.outcome, Outcome::kCommitted) << second.reason << ": " << second.message;
    EXPECT_EQ(Env("calls"), "mark_bad b\nmark_active b 3\nreboot \nmark_good b\n");
    EXPECT_EQ(Env("order"), "b\n");
    EXPECT_EQ(Env("try"), "0\n");
    auto status = ReadStatus(dir_, "command", config_);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ((*status)["installed"]["version"], "1.1.0");
    EXPECT_EQ((*status)["boot"]["booted"], "b");
    ASSERT_EQ(gw_.Reports().size(), 1u);
    EXPECT_EQ(gw_.Reports()[0].state, "installed");
}

TEST_F(CommandBackendTest, FailedHealthCheckRollsBackThroughTheScripts) {
    Offer(MakeImage(5000, 4));
    ASSERT_EQ(RunBoot(Opts()).outcome, Outcome::kRebootPending);
    BootOptions o = Opts();
    o.health_check = "exit 3";
    BootResult r = RunBoot(o);
    ASSERT_EQ(r.outcome, Outcome::kRolledBack) << r.reason << ": " << r.message;
    EXPECT_EQ(r.reason, "health-check-failed");
    EXPECT_EQ(r.version, "0.0.0");
    EXPECT_EQ(Env("calls"),
              "mark_bad b\nmark_active b 3\nreboot \nmark_bad b\nmark_good a\nreboot \n");
    EXPECT_EQ(Env("booted"), "a\n");
}

TEST_F(CommandBackendTest, TheBootloaderFallingBackByItselfIsARollback) {
    Offer(MakeImage(5000, 5));
    BootOptions o = Opts();
    o.max_boot_attempts = 1;
    ASSERT_EQ(RunBoot(o).outcome, Outcome::kRebootPending);
    // The new image hangs before the agent runs: two more power-ons by the bootloader alone.
    ASSERT_TRUE(WriteFileAtomic(env_ + "/left", "0\n"));
    ASSERT_EQ(std::system((env_ + "/reboot").c_str()), 0);
    EXPECT_EQ(Env("booted"), "a\n");
    BootResult r = RunBoot(o);
    ASSERT_EQ(r.outcome, Outcome::kRolledBack) << r.reason << ": " << r.message;
    EXPECT_EQ(r.reason, "boot-attempts-exhausted");
}

TEST_F(CommandBackendTest, SelectedByDeviceJsonAndTheCli) {
    auto cfg = LoadJsonFile(dir_ + "/device.json", 1 << 16);
    ASSERT_TRUE(cfg);
    (*cfg)["slot_backend"] = "command";
    (*cfg)["slot_config"] = config_;
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/device.json", cfg->dump()));
    Offer(MakeImage(6000, 6));
    std::vector<std::string> args{"device-agent", "boot",    "--state",     dir_,
                                  "--gateway",    gw_.Url(), "--log-level", "error"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    EXPECT_EQ(CliMain(static_cast<int>(argv.size()), argv.data()), 10);
    EXPECT_EQ(Env("booted"), "b\n");
    EXPECT_FALSE(FileExists(dir_ + "/boot.json"));  // the file backend was not used
}

TEST_F(CommandBackendTest, ScriptFailuresAreErrorsWithTheirReason) {
    Script("get_booted", "echo garbage\n");
    BootResult r = RunBoot(Opts());
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "slot-command");
    EXPECT_NE(r.message.find("garbage"), std::string::npos) << r.message;

    Script("get_booted", "exit 7\n");
    r = RunBoot(Opts());
    EXPECT_EQ(r.reason, "slot-command");
    EXPECT_NE(r.message.find("exited with 7"), std::string::npos) << r.message;

    BootOptions o = Opts();
    o.slot_config = tmp_.path() + "/missing.json";
    EXPECT_EQ(RunBoot(o).outcome, Outcome::kFailed);
    o.slot_backend = "bogus";
    EXPECT_EQ(RunBoot(o).reason, "usage");
}

// Raw slots (partitions, or pre-sized files): the length says nothing, so the progress is
// recorded beside the state, the resume starts there and only the image's prefix is hashed.
TEST_F(CommandBackendTest, RawSlotsResumeFromRecordedProgressAndHashThePrefix) {
    auto cfg = LoadJsonFile(config_, 1 << 16);
    ASSERT_TRUE(cfg);
    (*cfg)["raw_slots"] = true;
    ASSERT_TRUE(WriteFileAtomic(config_, cfg->dump()));
    const std::string partition(1 << 20, '\xab');
    ASSERT_TRUE(WriteFileAtomic(tmp_.path() + "/slot-b.img", partition));

    const Image image = MakeImage(300000, 9);
    Offer(image);
    gw_.SetImageMode(test::ImageMode::kCutOnce, 100000);
    BootResult cut = RunBoot(Opts());
    EXPECT_EQ(cut.reason, "download-failed");
    auto progress = ReadFile(dir_ + "/download.progress", 64);
    ASSERT_TRUE(progress);
    EXPECT_EQ(*progress, "100000\n");

    BootResult r = RunBoot(Opts());
    ASSERT_EQ(r.outcome, Outcome::kRebootPending) << r.reason << ": " << r.message;
    EXPECT_EQ(gw_.ImageRanges().back(), "bytes=100000-");
    auto slot = ReadFile(tmp_.path() + "/slot-b.img", 2 << 20);
    ASSERT_TRUE(slot);
    ASSERT_EQ(slot->size(), partition.size());  // a partition keeps its size
    EXPECT_EQ(slot->substr(0, image.bytes.size()), image.bytes);
    EXPECT_EQ(slot->substr(image.bytes.size()), partition.substr(image.bytes.size()));

    // A corrupted prefix is caught by the hash of the first `size` bytes.
    ASSERT_EQ(RunBoot(Opts()).outcome, Outcome::kCommitted);
    const Image v2 = MakeImage(200000, 10);
    ReleaseSpec spec;
    spec.sequence = 2;
    spec.version = "1.2.0";
    spec.sha256 = v2.sha256;
    spec.size = v2.bytes.size();
    std::string tampered = v2.bytes;
    tampered[5] ^= 1;
    gw_.SetImage(v2.sha256, tampered);
    gw_.SetImageMode(test::ImageMode::kNormal);
    const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 2}}), listed);
    BootResult bad = RunBoot(Opts());
    EXPECT_EQ(bad.reason, "hash-mismatch") << bad.message;
}

}  // namespace
}  // namespace fwchain::device
