// Power safety with the real executable (issue 5 item 8): SIGKILL at every crash point of the
// state machine (FWCHAIN_DEVICE_CRASH_AT, see device-agent/README.md) and from outside at random
// byte offsets of the download. After every kill the device must be on a bootable slot with a
// known version, and the next boots must finish the update (or the rollback) without fetching
// a completed byte twice and with each report delivered exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "device-agent/fetch.hpp"
#include "device-agent/slots.hpp"
#include "device-agent/state.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/device-agent/fake_gateway.hpp"
#include "tests/unit/device-agent/test_vendor.hpp"

namespace fwchain::device {
namespace {

namespace fs = std::filesystem;
using fwchain::test::Bin;
using fwchain::test::RunResult;
using test::FakeGateway;
using test::Image;
using test::ImageMode;
using test::MakeImage;
using test::ReleaseSpec;
using test::TestVendor;

class PowerLossTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = tmp_.path() + "/device";
        vendor_.Provision(dir_, "dev-0001");
        gw_.SetOnlyNewer(true);
    }

    void Offer(const Image& image, std::uint64_t sequence, const std::string& version) {
        ReleaseSpec spec;
        spec.sequence = sequence;
        spec.version = version;
        spec.sha256 = image.sha256;
        spec.size = image.bytes.size();
        gw_.SetImage(image.sha256, image.bytes);
        const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
        gw_.SetAnswer({}, vendor_.Timestamp({{"cam", sequence}}), listed);
    }

    std::vector<std::string> BootArgv() {
        return {Bin("device-agent"),
                "boot",
                "--state",
                dir_,
                "--gateway",
                gw_.Url(),
                "--json",
                "--retries",
                "1",
                "--health-check",
                "test -f " + tmp_.path() + "/healthy",
                "--log-level",
                "warn"};
    }

    // One boot of the real agent; with `crash_at`, FWCHAIN_DEVICE_CRASH_AT is set.
    RunResult Boot(const std::string& crash_at = "") {
        std::vector<std::string> argv = BootArgv();
        if (!crash_at.empty()) {
            argv.insert(argv.begin(), {"/usr/bin/env", "FWCHAIN_DEVICE_CRASH_AT=" + crash_at});
        }
        return fwchain::test::Run(argv, std::chrono::seconds(60));
    }

    Json Status() {
        RunResult r =
            fwchain::test::Run({Bin("device-agent"), "status", "--state", dir_, "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        auto j = ParseJson(r.out, 1 << 20);
        return j ? *j : Json::object();
    }

    // The invariant after any power cut: the slot the bootloader picks next is either good, or
    // on trial and holding exactly the image the agent is installing; the installed version is
    // one the device knows (factory or a committed image, whose slot holds that image).
    void ExpectBootable(const std::string& when) {
        SCOPED_TRACE(when);
        auto boot = MakeFileSlotBackend(dir_)->Query();
        ASSERT_TRUE(boot) << boot.error().ToString();
        auto st = LoadState(dir_ + "/state.json");
        ASSERT_TRUE(st) << st.error().ToString();
        const std::string active = boot->active;
        if (!boot->Good(active)) {
            ASSERT_TRUE(boot->try_once)
                << "active slot " << active << " is neither good nor on trial";
            ASSERT_TRUE(st->pending.has_value());
            EXPECT_EQ(st->pending->slot, active);
            auto digest = Sha256File(dir_ + "/slots/" + active + ".img");
            ASSERT_TRUE(digest);
            EXPECT_EQ(*digest, st->pending->sha256) << "trial slot does not hold the target image";
        }
        // The installed slot must be good (the fallback of a trial).
        EXPECT_TRUE(boot->Good(st->installed.slot)) << "installed slot " << st->installed.slot;
        if (!st->installed.sha256.empty()) {
            auto digest = Sha256File(dir_ + "/slots/" + st->installed.slot + ".img");
            ASSERT_TRUE(digest);
            EXPECT_EQ(*digest, st->installed.sha256);
        }
        EXPECT_TRUE(st->installed.version == "0.0.0" || st->installed.version == "1.1.0")
            << st->installed.version;
    }

    fwchain::test::TempDir tmp_;
    std::string dir_;
    TestVendor vendor_;
    FakeGateway gw_;
};

struct CrashCase {
    std::string point;
    bool healthy;  // false: the new image fails its health check (rollback path)
};

void PrintTo(const CrashCase& c, std::ostream* os) {
    *os << c.point << (c.healthy ? " (commit)" : " (rollback)");
}

class CrashPointTest : public PowerLossTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CrashPointTest, SigkillAtEveryCrashPointEndsBootableAndConverges) {
    const CrashCase c = GetParam();
    if (c.healthy) {
        ASSERT_TRUE(WriteFileAtomic(tmp_.path() + "/healthy", "ok"));
    }
    const Image image = MakeImage(300 * 1024 + 5, 7);
    Offer(image, 1, "1.1.0");

    // Boot with the crash armed until it fires (a point may lie in the second boot).
    bool killed = false;
    for (int boot = 0; boot < 4 && !killed; ++boot) {
        RunResult r = Boot(c.point);
        if (r.exit_code == -SIGKILL) {
            killed = true;
        } else {
            ASSERT_TRUE(r.exit_code == 10 || r.exit_code == 0 || r.exit_code == 20)
                << r.exit_code << " " << r.err;
        }
    }
    ASSERT_TRUE(killed) << "crash point " << c.point << " was never reached";
    ExpectBootable("right after SIGKILL at " + c.point);

    // Power back: boot until the device settles (at most a few boots).
    Json status;
    for (int boot = 0; boot < 6; ++boot) {
        RunResult r = Boot();
        ASSERT_NE(r.exit_code, -SIGKILL);
        ExpectBootable("boot " + std::to_string(boot) + " after the crash");
        status = Status();
        if ((r.exit_code == 0 || r.exit_code == 20) && status["phase"] == "idle" &&
            status["queued_reports"] == 0) {
            break;
        }
    }
    ASSERT_EQ(status["phase"], "idle");
    const std::string expect_version = c.healthy ? "1.1.0" : "0.0.0";
    EXPECT_EQ(status["installed"]["version"], expect_version);
    EXPECT_EQ(status["installed"]["slot"], c.healthy ? "b" : "a");

    // Exactly one outcome report, delivered once.
    const std::string expect_state = c.healthy ? "installed" : "rolled-back";
    int outcome_reports = 0;
    for (const auto& tx : gw_.Reports()) {
        if (tx.state == expect_state) ++outcome_reports;
        EXPECT_NE(tx.state, "failed") << tx.body.dump();
    }
    EXPECT_EQ(outcome_reports, 1);

    // Completed bytes are never fetched twice: every image request starts where the slot
    // ended, so the bytes served add up to at most the image once (a crash before any byte
    // arrived excepted: nothing to resume).
    std::uint64_t served = 0;
    for (auto n : gw_.BytesServed()) served += n;
    EXPECT_LE(served, image.bytes.size() + 0u) << "bytes fetched twice";
}

std::vector<CrashCase> AllCrashCases() {
    std::vector<CrashCase> cases;
    const std::vector<std::string> rollback_only{"rolling-back", kCrashSlotRolledBack};
    const std::vector<std::string> commit_only{kCrashHealthChecked, "committing", kCrashMarkedGood};
    for (const auto& p : CrashPoints()) {
        const bool is_rollback_only =
            std::find(rollback_only.begin(), rollback_only.end(), p) != rollback_only.end();
        const bool is_commit_only =
            std::find(commit_only.begin(), commit_only.end(), p) != commit_only.end();
        if (!is_rollback_only) cases.push_back({p, true});
        if (!is_commit_only) cases.push_back({p, false});
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(Points, CrashPointTest, ::testing::ValuesIn(AllCrashCases()),
                         [](const ::testing::TestParamInfo<CrashCase>& param_info) {
                             std::string n = param_info.param.point +
                                             (param_info.param.healthy ? "_commit" : "_rollback");
                             for (auto& ch : n) {
                                 if (ch == '-') ch = '_';
                             }
                             return n;
                         });

// SIGKILL from outside once the gateway has handed out N bytes, for 200 seeded random N. The
// seed is printed; FWCHAIN_TEST_SEED reproduces a run.
TEST_F(PowerLossTest, SigkillAtRandomDownloadOffsetsResumesWithoutRefetching) {
    const Image image = MakeImage(512 * 1024 + 3, 11);
    Offer(image, 1, "1.1.0");
    const std::string factory = tmp_.path() + "/factory";
    fs::copy(dir_, factory, fs::copy_options::recursive);

    std::uint64_t seed = 20261121;
    if (const char* s = std::getenv("FWCHAIN_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
    std::cout << "random kill offsets: seed " << seed << " (FWCHAIN_TEST_SEED)\n";
    RecordProperty("seed", std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> offset(1, image.bytes.size() - 1);

    constexpr int kPoints = 200;
    for (int i = 0; i < kPoints; ++i) {
        const std::size_t n = offset(rng);
        SCOPED_TRACE("kill point " + std::to_string(i) + ": after " + std::to_string(n) +
                     " bytes served (seed " + std::to_string(seed) + ")");
        fs::remove_all(dir_);
        fs::copy(factory, dir_, fs::copy_options::recursive);
        const std::size_t requests_before = gw_.ImageRanges().size();

        gw_.SetImageMode(ImageMode::kPauseAt, n);
        {
            fwchain::test::Process agent(BootArgv(), tmp_.path() + "/agent.log");
            // The gateway holds at N; once the agent has written all N bytes it waits for
            // more, and the power goes out.
            ASSERT_TRUE(fwchain::test::WaitFor(
                [&] { return gw_.Paused() && FileSize(dir_ + "/slots/b.img") >= n; },
                std::chrono::seconds(60)))
                << agent.Log();
            agent.Kill(SIGKILL);
        }
        gw_.ReleasePause();
        ExpectBootable("after the kill");
        const std::uint64_t on_disk = FileSize(dir_ + "/slots/b.img");
        ASSERT_EQ(on_disk, n) << "the slot does not hold exactly the bytes served";

        gw_.SetImageMode(ImageMode::kNormal);
        RunResult r = Boot();
        ASSERT_EQ(r.exit_code, 10) << r.err;
        ExpectBootable("after the resumed download");

        const auto ranges = gw_.ImageRanges();
        const auto served = gw_.BytesServed();
        ASSERT_EQ(ranges.size(), requests_before + 2);
        EXPECT_EQ(ranges.back(), "bytes=" + std::to_string(n) + "-");
        EXPECT_EQ(served.back(), image.bytes.size() - on_disk) << "completed bytes refetched";
        auto digest = Sha256File(dir_ + "/slots/b.img");
        ASSERT_TRUE(digest);
        EXPECT_EQ(*digest, image.sha256);
        if (HasFatalFailure()) return;
    }
}

// The in-process variant of the download kill: FWCHAIN_DEVICE_CRASH_AT=download:N.
TEST_F(PowerLossTest, CrashHookAtADownloadOffsetResumesFromTheSlotLength) {
    const Image image = MakeImage(256 * 1024, 12);
    Offer(image, 1, "1.1.0");
    RunResult killed = Boot("download:100000");
    ASSERT_EQ(killed.exit_code, -SIGKILL) << killed.err;
    ExpectBootable("after the kill");
    const std::uint64_t on_disk = FileSize(dir_ + "/slots/b.img");
    ASSERT_GE(on_disk, 100000u);
    ASSERT_LT(on_disk, image.bytes.size());
    RunResult r = Boot();
    ASSERT_EQ(r.exit_code, 10) << r.err;
    EXPECT_EQ(gw_.ImageRanges().back(), "bytes=" + std::to_string(on_disk) + "-");
    EXPECT_EQ(gw_.BytesServed().back(), image.bytes.size() - on_disk);
}

}  // namespace
}  // namespace fwchain::device
