// Pure parts of the device agent: the transition table, state persistence, the time bound, the
// file slot backend's bootloader simulation, the report queue on disk.
#include "device-agent/state.hpp"

#include <gtest/gtest.h>

#include "common/core/fs.hpp"
#include "device-agent/clock.hpp"
#include "device-agent/report.hpp"
#include "device-agent/slots.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::device {
namespace {

TEST(Transitions, TableAllowsTheUpdatePathOnly) {
    struct Case {
        Phase from, to;
        bool allowed;
    };
    const Case cases[] = {
        {Phase::kIdle, Phase::kDownloading, true},
        {Phase::kDownloading, Phase::kVerifying, true},
        {Phase::kVerifying, Phase::kInstalling, true},
        {Phase::kInstalling, Phase::kRebooting, true},
        {Phase::kInstalling, Phase::kInstalling, true},  // resumed after a power loss
        {Phase::kRebooting, Phase::kCommitting, true},
        {Phase::kRebooting, Phase::kRollingBack, true},
        {Phase::kCommitting, Phase::kIdle, true},
        {Phase::kRollingBack, Phase::kIdle, true},
        {Phase::kDownloading, Phase::kDownloading, true},  // resume
        // Skipping verification or the trial boot is never possible.
        {Phase::kDownloading, Phase::kInstalling, false},
        {Phase::kDownloading, Phase::kRebooting, false},
        {Phase::kIdle, Phase::kRebooting, false},
        {Phase::kIdle, Phase::kCommitting, false},
        {Phase::kRebooting, Phase::kIdle, false},
        {Phase::kInstalling, Phase::kCommitting, false},
        {Phase::kCommitting, Phase::kRollingBack, false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(TransitionAllowed(c.from, c.to), c.allowed)
            << PhaseName(c.from) << " -> " << PhaseName(c.to);
    }
}

TEST(Transitions, PhaseNamesRoundTrip) {
    for (Phase p : {Phase::kIdle, Phase::kDownloading, Phase::kVerifying, Phase::kInstalling,
                    Phase::kRebooting, Phase::kCommitting, Phase::kRollingBack}) {
        auto back = PhaseFromName(PhaseName(p));
        ASSERT_TRUE(back.has_value()) << PhaseName(p);
        EXPECT_EQ(*back, p);
    }
    EXPECT_FALSE(PhaseFromName("bogus").has_value());
}

TEST(StateFile, MissingFileIsAFactoryDevice) {
    fwchain::test::TempDir dir;
    auto s = LoadState(dir / "state.json");
    ASSERT_TRUE(s) << s.error().ToString();
    EXPECT_EQ(s->phase, Phase::kIdle);
    EXPECT_EQ(s->installed.sequence, 0u);
    EXPECT_EQ(s->installed.version, "0.0.0");
    EXPECT_EQ(s->installed.slot, "a");
    EXPECT_FALSE(s->pending.has_value());
}

TEST(StateFile, EnterPersistsBeforeReturning) {
    fwchain::test::TempDir dir;
    StateMachine sm(dir / "state.json", DeviceState{});
    sm.mutable_state().pending = Pending{7, "1.2.3", std::string(64, 'c'), 100, "b", "gw", 0, ""};
    ASSERT_TRUE(sm.Enter(Phase::kDownloading));
    // What is on disk now is what a power loss right after Enter() leaves.
    auto on_disk = LoadState(dir / "state.json");
    ASSERT_TRUE(on_disk) << on_disk.error().ToString();
    EXPECT_EQ(on_disk->phase, Phase::kDownloading);
    ASSERT_TRUE(on_disk->pending.has_value());
    EXPECT_EQ(on_disk->pending->sequence, 7u);
    EXPECT_EQ(on_disk->pending->slot, "b");
}

TEST(StateFile, RefusedTransitionChangesNothing) {
    fwchain::test::TempDir dir;
    StateMachine sm(dir / "state.json", DeviceState{});
    ASSERT_TRUE(sm.Save());
    auto before = ReadFile(dir / "state.json");
    ASSERT_TRUE(before);
    auto s = sm.Enter(Phase::kCommitting);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().reason, "bad-transition");
    EXPECT_EQ(sm.phase(), Phase::kIdle);
    EXPECT_EQ(*ReadFile(dir / "state.json"), *before);
}

TEST(StateFile, RoundTripKeepsEveryField) {
    DeviceState s;
    s.phase = Phase::kRebooting;
    s.installed = Installed{3, "1.0.3", std::string(64, 'a'), "b"};
    s.pending = Pending{4, "1.0.4", std::string(64, 'b'), 1234, "a", "gw-1", 9, "why"};
    s.report_counter = 9;
    s.mark = AcceptedMark{12, 1700000000};
    s.clock = ClockState{1700000000, 55, "boot-x", 77};
    s.rolled_back = {std::string(64, 'd')};
    auto back = DeviceState::FromJson(s.ToJson());
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(back->ToJson(), s.ToJson());
}

TEST(StateFile, ReservedNoncesStrictlyIncreaseAcrossRestarts) {
    fwchain::test::TempDir dir;
    std::uint64_t last = 0;
    for (int run = 0; run < 3; ++run) {
        auto loaded = LoadState(dir / "state.json");
        ASSERT_TRUE(loaded);
        StateMachine sm(dir / "state.json", *loaded);
        auto n = sm.ReserveNonce();
        ASSERT_TRUE(n);
        EXPECT_GT(*n, last);
        last = *n;
    }
    EXPECT_EQ(last, 3u);
}

TEST(StateFile, RejectsAnActivePhaseWithoutTarget) {
    DeviceState s;
    Json j = s.ToJson();
    j["phase"] = "rebooting";
    auto back = DeviceState::FromJson(j);
    ASSERT_FALSE(back);
    EXPECT_EQ(back.error().reason, "state-pending");
}

TEST(Clock, SameBootCountsOnlyForwardUptime) {
    ClockState c;
    c.base = 1000;
    ObserveUptime(c, {"boot-1", 50});  // a new boot id: its whole uptime counts
    EXPECT_EQ(LowerBound(c), 1050);
    ObserveUptime(c, {"boot-1", 80});
    EXPECT_EQ(LowerBound(c), 1080);
    ObserveUptime(c, {"boot-1", 70});  // never backwards
    EXPECT_EQ(LowerBound(c), 1080);
}

TEST(Clock, NewBootAddsItsUptime) {
    ClockState c;
    c.base = 1000;
    ObserveUptime(c, {"boot-1", 500});
    ObserveUptime(c, {"boot-2", 30});  // rebooted: the time it was off is unknown (counts 0)
    EXPECT_EQ(LowerBound(c), 1530);
    ObserveUptime(c, {"boot-2", 40});
    EXPECT_EQ(LowerBound(c), 1540);
}

TEST(Clock, RaiseBoundNeverLowersTheBound) {
    ClockState c;
    c.base = 1000;
    ObserveUptime(c, {"boot-1", 500});
    RaiseBound(c, 1200);  // older than what the device already knows
    EXPECT_EQ(LowerBound(c), 1500);
    RaiseBound(c, 2000);
    EXPECT_EQ(LowerBound(c), 2000);
    ObserveUptime(c, {"boot-1", 510});
    EXPECT_EQ(LowerBound(c), 2010);
}

TEST(Clock, ReadsTheKernelsUptimeAndBootId) {
    auto a = ReadProcUptime();
    ASSERT_TRUE(a) << a.error().ToString();
    EXPECT_EQ(a->boot_id.size(), 36u);  // a UUID, without the newline
    auto b = ReadProcUptime();
    ASSERT_TRUE(b);
    EXPECT_EQ(a->boot_id, b->boot_id);
    EXPECT_GE(b->seconds, a->seconds);
}

TEST(FileSlots, TryOnceConsumesAttemptsThenFallsBack) {
    fwchain::test::TempDir dir;
    auto slots = MakeFileSlotBackend(dir.path());
    auto boot = slots->Boot();
    ASSERT_TRUE(boot) << boot.error().ToString();
    EXPECT_EQ(boot->booted, "a");
    EXPECT_TRUE(FileExists(dir / "slots/a.img"));
    EXPECT_TRUE(FileExists(dir / "slots/b.img"));

    ASSERT_TRUE(slots->MarkTryOnce("b", 2));
    for (int i = 0; i < 2; ++i) {
        boot = slots->Boot();
        ASSERT_TRUE(boot);
        EXPECT_EQ(boot->booted, "b") << "boot " << i;
        EXPECT_TRUE(boot->try_once);
    }
    boot = slots->Boot();  // attempts exhausted without MarkGood
    ASSERT_TRUE(boot);
    EXPECT_EQ(boot->booted, "a");
    EXPECT_EQ(boot->active, "a");
    EXPECT_FALSE(boot->try_once);
    EXPECT_FALSE(boot->good_b);
}

TEST(FileSlots, MarkGoodKeepsTheNewSlot) {
    fwchain::test::TempDir dir;
    auto slots = MakeFileSlotBackend(dir.path());
    ASSERT_TRUE(slots->Boot());
    ASSERT_TRUE(slots->MarkTryOnce("b", 1));
    ASSERT_TRUE(slots->Boot());
    ASSERT_TRUE(slots->MarkGood("b"));
    for (int i = 0; i < 3; ++i) {
        auto boot = slots->Boot();
        ASSERT_TRUE(boot);
        EXPECT_EQ(boot->booted, "b");
        EXPECT_TRUE(boot->good_b);
    }
}

TEST(ReportQueueTest, ListsInNonceOrderAndCapsItsSize) {
    fwchain::test::TempDir dir;
    ReportQueue q(dir / "reports");
    SigningKey key = SigningKey::Generate();
    for (std::uint64_t nonce : {3u, 1u, 120000000u, 2u}) {
        ReportInfo info;
        info.state = report_state::kFailed;
        info.nonce = nonce;
        ASSERT_TRUE(q.Enqueue(MakeUpdateReport(key, "dev-1", info)));
    }
    auto files = q.List();
    ASSERT_TRUE(files);
    ASSERT_EQ(files->size(), 4u);
    EXPECT_EQ((*files)[0], dir / "reports/00000001.json");
    EXPECT_EQ((*files)[1], dir / "reports/00000002.json");
    EXPECT_EQ((*files)[2], dir / "reports/00000003.json");
    EXPECT_EQ((*files)[3], dir / "reports/120000000.json");

    for (std::uint64_t nonce = 200000000; nonce < 200000000 + ReportQueue::kMaxQueued; ++nonce) {
        ReportInfo info;
        info.state = report_state::kFailed;
        info.nonce = nonce;
        ASSERT_TRUE(q.Enqueue(MakeUpdateReport(key, "dev-1", info)));
    }
    files = q.List();
    ASSERT_TRUE(files);
    EXPECT_EQ(files->size(), ReportQueue::kMaxQueued);
    EXPECT_EQ(files->front(), dir / "reports/200000000.json");  // the oldest went first
}

TEST(ReportTx, IsSignedByTheDeviceAndParses) {
    SigningKey key = SigningKey::Generate();
    ReportInfo info;
    info.state = report_state::kInstalled;
    info.version = "1.2.0";
    info.sha256 = std::string(64, 'e');
    info.product = "cam";
    info.sequence = 5;
    info.previous_sequence = 4;
    info.gateway = "gw-1";
    info.time = 1700000000;
    info.nonce = 11;
    Tx tx = MakeUpdateReport(key, "dev-1", info);
    auto parsed = ParseTx(tx.ToJson());
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    EXPECT_EQ(parsed->sender, key.PublicHex());
    EXPECT_EQ(parsed->type, "update");
    EXPECT_EQ(parsed->recipient, "dev-1");
    EXPECT_EQ(parsed->verifier, info.sha256);
    EXPECT_EQ(parsed->body["previous_sequence"], 4);
    Json tampered = tx.ToJson();
    tampered["state"] = "failed";
    EXPECT_FALSE(ParseTx(tampered));
}

}  // namespace
}  // namespace fwchain::device
