// The device update flow end to end in-process: a test vendor signs the metadata, a fake gateway
// on loopback serves it, and `RunBoot` is one boot of the device (the file slot backend makes
// every call the next boot).
#include "device-agent/agent.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/core/fs.hpp"
#include "device-agent/cli.hpp"
#include "device-agent/fetch.hpp"
#include "device-agent/report.hpp"
#include "device-agent/slots.hpp"
#include "device-agent/state.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/device-agent/fake_gateway.hpp"
#include "tests/unit/device-agent/test_vendor.hpp"

namespace fwchain::device {
namespace {

using test::FakeGateway;
using test::Image;
using test::ImageMode;
using test::MakeImage;
using test::ReleaseSpec;
using test::TestVendor;

class AgentTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = tmp_.path() + "/device";
        device_pub_ = vendor_.Provision(dir_, "dev-0001");
    }

    BootOptions Opts() {
        BootOptions o;
        o.state_dir = dir_;
        o.gateway_url = gw_.Url();
        o.fetch.max_attempts = 1;
        o.fetch.stall_timeout_s = 10;
        o.fetch.backoff_initial = std::chrono::milliseconds(0);
        o.report_deadline = std::chrono::seconds(5);
        o.check_deadline = std::chrono::seconds(10);
        TimeSource t;
        if (has_rtc_) t.rtc = [this] { return rtc_; };
        t.uptime = [this] { return Expected<Uptime>(Uptime{boot_id_, uptime_}); };
        o.time = t;
        return o;
    }

    BootResult Boot() { return RunBoot(Opts()); }
    BootResult Boot(BootOptions o) { return RunBoot(o); }

    // The gateway offers `image` as release `sequence` of product cam / hardware rev-b.
    Envelope Offer(const Image& image, std::uint64_t sequence, const std::string& version) {
        ReleaseSpec spec;
        spec.sequence = sequence;
        spec.version = version;
        spec.sha256 = image.sha256;
        spec.size = image.bytes.size();
        Envelope m = vendor_.Release(spec);
        gw_.SetImage(image.sha256, image.bytes);
        gw_.SetAnswer({}, vendor_.Timestamp({{"cam", sequence}}), m);
        return m;
    }
    void OfferNothing(std::uint64_t latest = 0) {
        gw_.SetAnswer({}, vendor_.Timestamp({{"cam", latest}}), std::nullopt);
    }

    DeviceState State() {
        auto s = LoadState(dir_ + "/state.json");
        EXPECT_TRUE(s) << s.error().ToString();
        return s ? *s : DeviceState{};
    }
    BootInfo Slots() {
        auto b = MakeFileSlotBackend(dir_)->Query();
        EXPECT_TRUE(b) << b.error().ToString();
        return b ? *b : BootInfo{};
    }
    std::string SlotContent(const std::string& slot) {
        auto c = ReadFile(dir_ + "/slots/" + slot + ".img", 64 << 20);
        return c ? *c : std::string("<unreadable>");
    }
    std::size_t Queued() {
        auto files = ReportQueue(dir_ + "/reports").List();
        EXPECT_TRUE(files);
        return files ? files->size() : 0;
    }
    // Installs `image` as `sequence` through two boots.
    void Install(const Image& image, std::uint64_t sequence, const std::string& version) {
        Offer(image, sequence, version);
        auto first = Boot();
        ASSERT_EQ(first.outcome, Outcome::kRebootPending) << first.reason << ": " << first.message;
        OfferNothing(sequence);
        auto second = Boot();
        ASSERT_EQ(second.outcome, Outcome::kCommitted) << second.reason << ": " << second.message;
    }

    fwchain::test::TempDir tmp_;
    std::string dir_;
    TestVendor vendor_;
    FakeGateway gw_;
    std::string device_pub_;
    bool has_rtc_ = true;
    std::int64_t rtc_ = NowSeconds();
    std::string boot_id_ = "boot-1";
    std::int64_t uptime_ = 100;
};

TEST_F(AgentTest, HappyPathInstallsRebootsAndCommits) {
    const Image image = MakeImage(200 * 1024 + 17, 1);
    Offer(image, 1, "1.1.0");

    BootResult first = Boot();
    ASSERT_EQ(first.outcome, Outcome::kRebootPending) << first.reason << ": " << first.message;
    EXPECT_EQ(first.exit_code(), 10);
    EXPECT_EQ(first.sequence, 1u);
    EXPECT_EQ(first.version, "1.1.0");
    EXPECT_EQ(State().phase, Phase::kRebooting);
    EXPECT_EQ(State().installed.sequence, 0u);  // not before the new image proved itself
    EXPECT_EQ(SlotContent("b"), image.bytes);
    BootInfo slots = Slots();
    EXPECT_EQ(slots.active, "b");
    EXPECT_TRUE(slots.try_once);
    EXPECT_EQ(slots.attempts_left, 3);
    ASSERT_EQ(gw_.Checks().size(), 1u);
    EXPECT_EQ(gw_.Checks()[0]["device_id"], "dev-0001");
    EXPECT_EQ(gw_.Checks()[0]["sequence"], 0);
    EXPECT_EQ(gw_.Checks()[0]["root_version"], 1);
    EXPECT_TRUE(gw_.Reports().empty());

    OfferNothing(1);
    BootResult second = Boot();
    ASSERT_EQ(second.outcome, Outcome::kCommitted) << second.reason << ": " << second.message;
    EXPECT_EQ(second.exit_code(), 0);
    DeviceState st = State();
    EXPECT_EQ(st.phase, Phase::kIdle);
    EXPECT_EQ(st.installed.sequence, 1u);
    EXPECT_EQ(st.installed.version, "1.1.0");
    EXPECT_EQ(st.installed.sha256, image.sha256);
    EXPECT_EQ(st.installed.slot, "b");
    slots = Slots();
    EXPECT_EQ(slots.booted, "b");
    EXPECT_FALSE(slots.try_once);
    EXPECT_TRUE(slots.good_b);
    EXPECT_EQ(gw_.Checks().back()["sequence"], 1);  // the check after the commit

    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 1u);
    auto parsed = ParseTx(reports[0].ToJson());  // signature and shape
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    EXPECT_EQ(parsed->sender, device_pub_);
    EXPECT_EQ(parsed->type, "update");
    EXPECT_EQ(parsed->state, "installed");
    EXPECT_EQ(parsed->recipient, "dev-0001");
    EXPECT_EQ(parsed->ver, "1.1.0");
    EXPECT_EQ(parsed->verifier, image.sha256);
    EXPECT_EQ(parsed->nonce, 1u);
    EXPECT_EQ(parsed->body["product"], "cam");
    EXPECT_EQ(parsed->body["sequence"], 1);
    EXPECT_EQ(parsed->body["previous_sequence"], 0);
    EXPECT_EQ(parsed->body["gateway"], "gw-test");
    EXPECT_EQ(Queued(), 0u);

    // Nothing newer: quiet, and the up-to-date state is not reported.
    BootResult third = Boot();
    EXPECT_EQ(third.outcome, Outcome::kUpToDate);
    EXPECT_EQ(third.exit_code(), 0);
    EXPECT_EQ(gw_.Reports().size(), 1u);
}

TEST_F(AgentTest, SecondUpdateGoesBackToSlotA) {
    const Image v1 = MakeImage(10000, 1);
    const Image v2 = MakeImage(12000, 2);
    Install(v1, 1, "1.1.0");
    Install(v2, 2, "1.2.0");
    DeviceState st = State();
    EXPECT_EQ(st.installed.slot, "a");
    EXPECT_EQ(st.installed.sequence, 2u);
    EXPECT_EQ(SlotContent("a"), v2.bytes);
    EXPECT_EQ(SlotContent("b"), v1.bytes);  // the fallback stays intact
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_LT(reports[0].nonce, reports[1].nonce);
    EXPECT_EQ(reports[1].body["previous_sequence"], 1);
}

// Each refusal: exit 1, the reason in the result and in a signed `failed` report, nothing
// installed and (for metadata refusals) no image requested.
struct RefusalCase {
    const char* name;
    const char* reason;
    bool downloads;  // the refusal comes after the download
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

class RefusalTest : public AgentTest, public ::testing::WithParamInterface<RefusalCase> {
  protected:
    void Arrange(const std::string& name, const Image& image) {
        ReleaseSpec spec;
        spec.sequence = 1;
        spec.version = "9.9.9";
        spec.sha256 = image.sha256;
        spec.size = image.bytes.size();
        std::map<std::string, std::uint64_t> latest{{"cam", 1}};
        bool expired = false;
        bool unlisted = false;
        gw_.SetImage(image.sha256, image.bytes);
        if (name == "unknown-key") {
            spec.key = &stranger_;
        } else if (name == "wrong-product") {
            spec.product = "doorbell";
            latest["doorbell"] = 1;
        } else if (name == "wrong-hardware") {
            spec.hardware = {"rev-a", "rev-c"};
        } else if (name == "expired-timestamp") {
            expired = true;
        } else if (name == "unlisted-manifest") {
            // Signed by the real release key (stolen), but no timestamp names it.
            unlisted = true;
        } else if (name == "not-in-timestamp") {
            spec.sequence = 2;  // mix-and-match: newer than the timestamp names
        } else if (name == "too-large") {
            ASSERT_TRUE(WriteFileAtomic(dir_ + "/device.json",
                                        Json{{"device_id", "dev-0001"},
                                             {"vendor", "acme"},
                                             {"product", "cam"},
                                             {"hardware", "rev-b"},
                                             {"max_image_size", image.bytes.size() - 1}}
                                            .dump()));
        } else if (name == "tampered-image") {
            std::string evil = image.bytes;
            evil[evil.size() / 2] ^= 0x01;
            gw_.SetImage(image.sha256, evil);
        } else if (name == "endless-length") {
            gw_.SetImageMode(ImageMode::kExtraLength);
        } else if (name == "endless-chunked") {
            gw_.SetImageMode(ImageMode::kExtraChunked);
        }
        const Envelope m = unlisted ? vendor_.UnlistedRelease(spec) : vendor_.Release(spec);
        const Envelope ts = expired ? vendor_.Timestamp(latest, rtc_ - 7200, rtc_ - 3600)
                                    : vendor_.Timestamp(latest);
        gw_.SetAnswer({}, ts, m);
    }

    SigningKey stranger_ = SigningKey::Generate();
};

TEST_P(RefusalTest, RefusesReportsAndKeepsTheInstalledImage) {
    const RefusalCase& c = GetParam();
    const Image image = MakeImage(50000, 7);
    Arrange(c.name, image);
    if (HasFatalFailure()) return;

    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.exit_code(), 1);
    EXPECT_EQ(r.reason, c.reason) << r.message;
    EXPECT_FALSE(r.message.empty());

    DeviceState st = State();
    EXPECT_EQ(st.phase, Phase::kIdle);
    EXPECT_EQ(st.installed.sequence, 0u);
    EXPECT_EQ(st.installed.slot, "a");
    BootInfo slots = Slots();
    EXPECT_EQ(slots.active, "a");
    EXPECT_FALSE(slots.try_once);
    EXPECT_FALSE(slots.good_b);
    EXPECT_EQ(FileSize(dir_ + "/slots/b.img"), 0u);  // nothing unverified is left behind
    EXPECT_EQ(!gw_.ImageRanges().empty(), c.downloads);

    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 1u);
    ASSERT_TRUE(ParseTx(reports[0].ToJson()));
    EXPECT_EQ(reports[0].sender, device_pub_);
    EXPECT_EQ(reports[0].state, "failed");
    EXPECT_EQ(reports[0].body["reason"], std::string(c.reason));
    EXPECT_EQ(Queued(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Threats, RefusalTest,
    ::testing::Values(RefusalCase{"unknown-key", "bad-signature", false},
                      RefusalCase{"wrong-product", "wrong-product", false},
                      RefusalCase{"wrong-hardware", "wrong-hardware", false},
                      RefusalCase{"expired-timestamp", "stale-timestamp", false},
                      RefusalCase{"not-in-timestamp", "mix-and-match", false},
                      RefusalCase{"unlisted-manifest", "manifest-not-in-timestamp", false},
                      RefusalCase{"too-large", "image-too-large", false},
                      RefusalCase{"tampered-image", "hash-mismatch", true},
                      RefusalCase{"endless-length", "endless-data", true},
                      RefusalCase{"endless-chunked", "endless-data", true}),
    [](const ::testing::TestParamInfo<RefusalCase>& param_info) {
        std::string n = param_info.param.name;
        for (auto& ch : n) {
            if (ch == '-') ch = '_';
        }
        return n;
    });

TEST_F(AgentTest, RefusesLowerOrEqualSequence) {
    const Image v2 = MakeImage(3000, 2);
    Install(v2, 2, "1.2.0");
    const std::size_t reports_before = gw_.Reports().size();
    for (std::uint64_t seq : {2u, 1u}) {
        const Image old = MakeImage(3000, 100 + static_cast<std::uint32_t>(seq));
        ReleaseSpec spec;
        spec.sequence = seq;
        spec.version = "1.0." + std::to_string(seq);
        spec.sha256 = old.sha256;
        spec.size = old.bytes.size();
        gw_.SetImage(old.sha256, old.bytes);
        const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
        gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 2}}), listed);
        BootResult r = Boot();
        EXPECT_EQ(r.outcome, Outcome::kFailed) << "sequence " << seq;
        EXPECT_EQ(r.reason, "rollback") << r.message;
        EXPECT_EQ(State().installed.sequence, 2u);
    }
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), reports_before + 2);
    EXPECT_EQ(reports.back().state, "failed");
    EXPECT_EQ(reports.back().body["reason"], "rollback");
    // The report names what the device runs; the refused manifest's claims stay in
    // body.rejected, so they never show up in the ledger as a version of the fleet.
    EXPECT_EQ(reports.back().ver, "1.2.0");
    EXPECT_EQ(reports.back().verifier, v2.sha256);
    EXPECT_EQ(reports.back().body["sequence"], 2);
    EXPECT_EQ(reports.back().body["rejected"]["sequence"], 1);
    EXPECT_EQ(reports.back().body["rejected"]["version"], "1.0.1");
}

TEST_F(AgentTest, RefusesAnOlderTimestampThanAccepted) {
    Envelope old_ts = vendor_.Timestamp({{"cam", 0}});
    OfferNothing();  // a newer timestamp (higher version)
    ASSERT_EQ(Boot().outcome, Outcome::kUpToDate);
    gw_.SetAnswer({}, old_ts, std::nullopt);
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "rollback") << r.message;
}

TEST_F(AgentTest, NoRtcDetectsAFrozenTimestampAcrossBoots) {
    has_rtc_ = false;
    const std::int64_t now = NowSeconds();
    // Valid for 500 s after issue; the device never reads a wall clock.
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 0}}, now, now + 500), std::nullopt);
    BootResult r = Boot();
    ASSERT_EQ(r.outcome, Outcome::kUpToDate) << r.reason << ": " << r.message;
    EXPECT_EQ(State().clock.base, now);

    // Same boot, 300 s later: still fresh by the bound.
    uptime_ += 300;
    r = Boot();
    ASSERT_EQ(r.outcome, Outcome::kUpToDate) << r.reason << ": " << r.message;

    // A reboot: the new boot's 250 s of uptime add to the persisted 300 s -> 550 s > 500 s.
    boot_id_ = "boot-2";
    uptime_ = 250;
    r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "stale-timestamp") << r.message;
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].body["reason"], "stale-timestamp");
    EXPECT_GE(reports[0].time, now + 550);  // reports carry the bound when there is no RTC
}

TEST_F(AgentTest, NoRtcFlagIgnoresTheRtc) {
    const std::int64_t now = NowSeconds();
    rtc_ = now + 10 * 86400;  // an RTC running ahead would call this timestamp expired
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 0}}, now, now + 500), std::nullopt);
    BootOptions o = Opts();
    o.no_rtc = true;
    BootResult r = Boot(o);
    EXPECT_EQ(r.outcome, Outcome::kUpToDate) << r.reason << ": " << r.message;

    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 0}}, now, now + 500), std::nullopt);
    r = Boot();  // with the RTC
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "stale-timestamp") << r.message;
}

TEST_F(AgentTest, NoRtcBoundStartsAtThePinnedRoot) {
    has_rtc_ = false;
    const std::int64_t now = NowSeconds();
    // Expired before the pinned root was issued: stale even for a device that never ran.
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 0}}, now - 1000, vendor_.root().issued - 1),
                  std::nullopt);
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "stale-timestamp") << r.message;
}

TEST_F(AgentTest, DownloadResumesWithRangeAcrossBoots) {
    const Image image = MakeImage(64 * 1024, 3);
    const std::size_t half = 32 * 1024;
    Offer(image, 1, "1.1.0");
    gw_.SetImageMode(ImageMode::kCutOnce, half);

    BootResult first = Boot();  // one attempt only: the cut ends this boot
    ASSERT_EQ(first.outcome, Outcome::kFailed);
    EXPECT_EQ(first.reason, "download-failed") << first.message;
    EXPECT_EQ(State().phase, Phase::kDownloading);
    EXPECT_EQ(FileSize(dir_ + "/slots/b.img"), half);
    EXPECT_EQ(SlotContent("b"), image.bytes.substr(0, half));

    BootResult second = Boot();
    ASSERT_EQ(second.outcome, Outcome::kRebootPending) << second.reason << ": " << second.message;
    auto ranges = gw_.ImageRanges();
    ASSERT_EQ(ranges.size(), 2u);
    EXPECT_EQ(ranges[0], "");
    EXPECT_EQ(ranges[1], "bytes=" + std::to_string(half) + "-");
    EXPECT_EQ(SlotContent("b"), image.bytes);
    // The failed attempt was reported; the download was not restarted from zero.
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].body["reason"], "download-failed");
}

TEST_F(AgentTest, DownloadRetriesWithinOneBoot) {
    const Image image = MakeImage(40000, 4);
    Offer(image, 1, "1.1.0");
    gw_.SetImageMode(ImageMode::kCutOnce, 10000);
    BootOptions o = Opts();
    o.fetch.max_attempts = 3;
    BootResult r = Boot(o);
    ASSERT_EQ(r.outcome, Outcome::kRebootPending) << r.reason << ": " << r.message;
    auto ranges = gw_.ImageRanges();
    ASSERT_EQ(ranges.size(), 2u);
    EXPECT_EQ(ranges[1], "bytes=10000-");
    EXPECT_TRUE(gw_.Reports().empty());
}

TEST_F(AgentTest, StalledDownloadTimesOutAndKeepsItsBytes) {
    const Image image = MakeImage(40000, 17);
    Offer(image, 1, "1.1.0");
    gw_.SetImageMode(ImageMode::kStall, 12000);
    BootOptions o = Opts();
    o.fetch.stall_timeout_s = 1;
    BootResult r = Boot(o);
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "stall-timeout") << r.message;
    EXPECT_EQ(State().phase, Phase::kDownloading);  // resumable
    EXPECT_EQ(FileSize(dir_ + "/slots/b.img"), 12000u);
    ASSERT_EQ(gw_.Reports().size(), 1u);
    EXPECT_EQ(gw_.Reports()[0].body["reason"], "stall-timeout");
}

TEST_F(AgentTest, ClientErrorsAreNotRetried) {
    const Image image = MakeImage(4000, 18);
    ReleaseSpec spec;
    spec.sha256 = image.sha256;  // never given to the gateway: 404
    spec.size = image.bytes.size();
    const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), listed);
    BootOptions o = Opts();
    o.fetch.max_attempts = 4;
    BootResult r = Boot(o);
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "download-failed") << r.message;
    EXPECT_EQ(gw_.ImageRanges().size(), 1u);
}

TEST_F(AgentTest, ANewTargetDiscardsAnOtherImagesPartialDownload) {
    const Image first = MakeImage(30000, 5);
    Offer(first, 1, "1.1.0");
    gw_.SetImageMode(ImageMode::kCutOnce, 10000);
    ASSERT_EQ(Boot().outcome, Outcome::kFailed);
    ASSERT_EQ(FileSize(dir_ + "/slots/b.img"), 10000u);

    const Image second = MakeImage(30000, 6);
    Offer(second, 2, "1.2.0");
    BootResult r = Boot();
    ASSERT_EQ(r.outcome, Outcome::kRebootPending) << r.reason << ": " << r.message;
    EXPECT_EQ(gw_.ImageRanges().back(), "");  // from zero, not from the other image's bytes
    EXPECT_EQ(SlotContent("b"), second.bytes);
}

TEST_F(AgentTest, FailedHealthCheckRollsBackAndIsNotRetried) {
    const Image image = MakeImage(20000, 8);
    Offer(image, 1, "1.1.0");
    ASSERT_EQ(Boot().outcome, Outcome::kRebootPending);

    BootOptions o = Opts();
    o.health_check = "test \"$FWCHAIN_SLOT\" = b && exit 3";
    BootResult r = Boot(o);
    ASSERT_EQ(r.outcome, Outcome::kRolledBack) << r.reason << ": " << r.message;
    EXPECT_EQ(r.exit_code(), 20);
    EXPECT_EQ(r.reason, "health-check-failed");
    DeviceState st = State();
    EXPECT_EQ(st.phase, Phase::kIdle);
    EXPECT_EQ(st.installed.sequence, 0u);
    EXPECT_EQ(st.installed.slot, "a");
    BootInfo slots = Slots();
    EXPECT_EQ(slots.active, "a");
    EXPECT_FALSE(slots.try_once);
    EXPECT_FALSE(slots.good_b);

    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].state, "rolled-back");
    EXPECT_EQ(reports[0].verifier, image.sha256);
    EXPECT_EQ(reports[0].body["reason"], "health-check-failed");
    EXPECT_EQ(reports[0].body["sequence"], 1);
    EXPECT_EQ(reports[0].body["previous_sequence"], 0);

    // The next boot runs the old slot, and the gateway still offers the bad image: skipped.
    BootResult next = Boot();
    EXPECT_EQ(next.outcome, Outcome::kUpToDate) << next.reason << ": " << next.message;
    EXPECT_EQ(Slots().booted, "a");
    EXPECT_EQ(gw_.ImageRanges().size(), 1u);
    EXPECT_EQ(gw_.Reports().size(), 1u);
}

TEST_F(AgentTest, HealthCheckSeesTheNewSlot) {
    const Image image = MakeImage(20000, 9);
    Offer(image, 1, "1.1.0");
    ASSERT_EQ(Boot().outcome, Outcome::kRebootPending);
    OfferNothing(1);
    BootOptions o = Opts();
    o.health_check = "test \"$FWCHAIN_SLOT\" = b && test \"$FWCHAIN_SEQUENCE\" = 1";
    BootResult r = Boot(o);
    EXPECT_EQ(r.outcome, Outcome::kCommitted) << r.reason << ": " << r.message;
}

TEST_F(AgentTest, ExhaustedBootAttemptsRollBack) {
    const Image image = MakeImage(20000, 10);
    Offer(image, 1, "1.1.0");
    BootOptions o = Opts();
    o.max_boot_attempts = 2;
    ASSERT_EQ(Boot(o).outcome, Outcome::kRebootPending);
    // Two boots of the new image die before the agent runs: only the bootloader counts them.
    auto slots = MakeFileSlotBackend(dir_);
    for (int i = 0; i < 2; ++i) {
        auto b = slots->Boot();
        ASSERT_TRUE(b);
        EXPECT_EQ(b->booted, "b");
    }
    BootResult r = Boot(o);  // the bootloader falls back to a; the agent notices
    ASSERT_EQ(r.outcome, Outcome::kRolledBack) << r.reason << ": " << r.message;
    EXPECT_EQ(r.reason, "boot-attempts-exhausted");
    EXPECT_EQ(Slots().booted, "a");
    EXPECT_EQ(State().installed.sequence, 0u);
    ASSERT_EQ(gw_.Reports().size(), 1u);
    EXPECT_EQ(gw_.Reports()[0].state, "rolled-back");
}

TEST_F(AgentTest, ReportQueueSurvivesAnUnreachableGatewayAndIsDeliveredOnce) {
    const Image image = MakeImage(20000, 11);
    Offer(image, 1, "1.1.0");
    ASSERT_EQ(Boot().outcome, Outcome::kRebootPending);

    FakeGateway gone;
    const std::string gone_url = gone.Url();
    gone.Stop();  // nothing listens there any more
    BootOptions o = Opts();
    o.gateway_url = gone_url;
    BootResult r = Boot(o);  // commits, queues `installed`, cannot send it nor check
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "gateway-unreachable") << r.message;
    EXPECT_EQ(State().installed.sequence, 1u);  // the commit does not wait for the network
    EXPECT_EQ(Queued(), 1u);
    EXPECT_EQ(gw_.ReportPosts(), 0);

    OfferNothing(1);
    r = Boot();  // gateway back: the queued report goes out
    EXPECT_EQ(r.outcome, Outcome::kUpToDate) << r.reason << ": " << r.message;
    EXPECT_EQ(Queued(), 0u);
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].state, "installed");
    EXPECT_EQ(reports[0].nonce, 1u);

    r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kUpToDate);
    EXPECT_EQ(gw_.ReportPosts(), 1);  // not sent again
}

TEST_F(AgentTest, AReportTheGatewayAlreadyHasIsDropped) {
    const Image image = MakeImage(20000, 12);
    Install(image, 1, "1.1.0");
    ASSERT_EQ(gw_.Reports().size(), 1u);
    // Power lost after the gateway took the report but before it left the queue.
    ReportQueue q(dir_ + "/reports");
    ASSERT_TRUE(q.Enqueue(gw_.Reports()[0]));
    ASSERT_EQ(Queued(), 1u);
    ASSERT_EQ(Boot().outcome, Outcome::kUpToDate);
    EXPECT_EQ(Queued(), 0u);  // 409 = delivered
    EXPECT_EQ(gw_.Reports().size(), 1u);
    EXPECT_EQ(gw_.ReportPosts(), 2);
}

TEST_F(AgentTest, ServerErrorsKeepReportsInOrder) {
    const Image image = MakeImage(5000, 13);
    ReleaseSpec spec;
    spec.hardware = {"rev-z"};
    spec.sha256 = image.sha256;
    spec.size = image.bytes.size();
    const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), listed);
    gw_.SetReportStatus(503);
    EXPECT_EQ(Boot().reason, "wrong-hardware");
    EXPECT_EQ(Boot().reason, "wrong-hardware");
    EXPECT_EQ(Queued(), 2u);
    gw_.SetReportStatus(0);
    OfferNothing(1);
    EXPECT_EQ(Boot().outcome, Outcome::kUpToDate);
    EXPECT_EQ(Queued(), 0u);
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_LT(reports[0].nonce, reports[1].nonce);
}

TEST_F(AgentTest, WalksARotatedRootChain) {
    vendor_.RotateRoot();
    vendor_.RotateRoot();
    const Image image = MakeImage(8000, 14);
    ReleaseSpec spec;
    spec.sha256 = image.sha256;
    spec.size = image.bytes.size();
    gw_.SetImage(image.sha256, image.bytes);
    std::vector<Envelope> newer(vendor_.roots().begin() + 1, vendor_.roots().end());
    const Envelope listed = vendor_.Release(spec);  // before the timestamp that names it
    gw_.SetAnswer(newer, vendor_.Timestamp({{"cam", 1}}), listed);
    BootResult r = Boot();
    ASSERT_EQ(r.outcome, Outcome::kRebootPending) << r.reason << ": " << r.message;
    auto trusted = ReadFile(dir_ + "/trusted_root.json");
    ASSERT_TRUE(trusted);
    auto env = ParseEnvelope(std::string_view(*trusted));
    ASSERT_TRUE(env);
    EXPECT_EQ(env->signed_doc["version"], 3);

    OfferNothing(1);
    ASSERT_EQ(Boot().outcome, Outcome::kCommitted);
    EXPECT_EQ(gw_.Checks().back()["root_version"], 3);
}

TEST_F(AgentTest, RefusesARootChainWithAGap) {
    vendor_.RotateRoot();
    vendor_.RotateRoot();
    // Only v3: v2 is skipped, which TUF forbids.
    gw_.SetAnswer({vendor_.roots().back()}, vendor_.Timestamp({{"cam", 0}}), std::nullopt);
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "root-gap") << r.message;
    auto trusted = ReadFile(dir_ + "/trusted_root.json");
    ASSERT_TRUE(trusted);
    auto env = ParseEnvelope(std::string_view(*trusted));
    ASSERT_TRUE(env);
    EXPECT_EQ(env->signed_doc["version"], 1);
}

TEST_F(AgentTest, GatewayNotReadyIsAnErrorWithoutReport) {
    gw_.SetCheckStatus(503);
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "gateway-not-ready") << r.message;
    EXPECT_EQ(Queued(), 0u);
}

TEST_F(AgentTest, ResumesAnInterruptedCommit) {
    const Image image = MakeImage(9000, 15);
    Offer(image, 1, "1.1.0");
    ASSERT_EQ(Boot().outcome, Outcome::kRebootPending);
    // Power lost right after `committing` was written (nonce reserved, nothing else done).
    DeviceState st = State();
    st.report_counter += 1;
    st.pending->report_nonce = st.report_counter;
    st.phase = Phase::kCommitting;
    ASSERT_TRUE(SaveState(dir_ + "/state.json", st));
    OfferNothing(1);
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kCommitted) << r.reason << ": " << r.message;
    EXPECT_EQ(State().installed.sequence, 1u);
    ASSERT_EQ(gw_.Reports().size(), 1u);
    EXPECT_EQ(gw_.Reports()[0].nonce, st.report_counter);
}

// The CLI in-process: exit codes, --json, status.
int Cli(std::vector<std::string> args) {
    args.insert(args.begin(), "device-agent");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return CliMain(static_cast<int>(argv.size()), argv.data());
}

TEST_F(AgentTest, CliExitCodesAndJson) {
    EXPECT_EQ(Cli({"boot"}), 2);
    EXPECT_EQ(Cli({"boot", "--state", dir_}), 2);
    EXPECT_EQ(Cli({"bogus"}), 2);

    const Image image = MakeImage(7000, 16);
    Offer(image, 1, "1.1.0");
    ::testing::internal::CaptureStdout();
    // --no-rtc: the real /proc uptime source and the persisted bound.
    const int code = Cli({"boot", "--state", dir_, "--gateway", gw_.Url(), "--json", "--no-rtc",
                          "--log-level", "error"});
    const std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(code, 10);
    auto j = ParseJson(out);
    ASSERT_TRUE(j) << out;
    EXPECT_EQ((*j)["state"], "reboot-pending");
    EXPECT_EQ((*j)["device_id"], "dev-0001");
    EXPECT_EQ((*j)["sequence"], 1);
    EXPECT_EQ((*j)["version"], "1.1.0");
    EXPECT_EQ((*j)["reason"], "");
    EXPECT_EQ(State().clock.boot_id.size(), 36u);  // the kernel's boot id was recorded

    ::testing::internal::CaptureStdout();
    EXPECT_EQ(Cli({"status", "--state", dir_, "--json"}), 0);
    auto status = ParseJson(::testing::internal::GetCapturedStdout());
    ASSERT_TRUE(status);
    EXPECT_EQ((*status)["phase"], "rebooting");
    EXPECT_EQ((*status)["installed"]["sequence"], 0);
    EXPECT_EQ((*status)["pending"]["sequence"], 1);
    EXPECT_EQ((*status)["pending"]["downloaded"], 7000);
    EXPECT_EQ((*status)["boot"]["active"], "b");
    EXPECT_EQ((*status)["queued_reports"], 0);
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(Cli({"status", "--state", dir_}), 0);
    const std::string human = ::testing::internal::GetCapturedStdout();
    EXPECT_NE(human.find("1.1.0 (sequence 1) -> slot b: rebooting, 7000/7000 bytes"),
              std::string::npos)
        << human;

    OfferNothing(1);
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(Cli({"boot", "--state", dir_, "--gateway", gw_.Url(), "--log-level", "error",
                   "--health-check", "exit 1"}),
              20);
    EXPECT_NE(::testing::internal::GetCapturedStdout().find("rolled back"), std::string::npos);
}

TEST_F(AgentTest, ASecondAgentOnTheSameStateDirIsRefused) {
    auto lock = LockStateDir(dir_);
    ASSERT_TRUE(lock) << lock.error().ToString();
    OfferNothing();
    BootResult r = Boot();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "busy") << r.message;
    EXPECT_TRUE(gw_.Checks().empty());
}

TEST_F(AgentTest, MissingStateDirIsAnError) {
    BootOptions o = Opts();
    o.state_dir = tmp_.path() + "/nope";
    BootResult r = Boot(o);
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_FALSE(r.reason.empty());
    EXPECT_EQ(Cli({"status", "--state", tmp_.path() + "/nope"}), 1);
}

// Slow retrieval: a gateway that keeps the connection alive with a trickle never trips the stall
// timeout, so the minimum rate must end the attempt; the bytes received stay for a resume.
TEST_F(AgentTest, TrickleBelowTheMinimumRateIsSlowRetrieval) {
    const Image image = MakeImage(200000, 18);
    Offer(image, 1, "1.1.0");
    gw_.SetImageMode(ImageMode::kTrickle);
    BootOptions o = Opts();
    o.fetch.stall_timeout_s = 30;
    o.fetch.min_rate = 100000;
    o.fetch.min_rate_window_s = 1;
    BootResult r = Boot(o);
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "slow-retrieval") << r.message;
    EXPECT_EQ(State().phase, Phase::kDownloading);  // resumable
    const std::uint64_t kept = FileSize(dir_ + "/slots/b.img");
    EXPECT_GT(kept, 0u);
    ASSERT_EQ(gw_.Reports().size(), 1u);
    EXPECT_EQ(gw_.Reports()[0].state, "failed");
    EXPECT_EQ(gw_.Reports()[0].body["reason"], "slow-retrieval");

    gw_.SetImageMode(ImageMode::kNormal);
    BootResult again = Boot(o);
    ASSERT_EQ(again.outcome, Outcome::kRebootPending) << again.reason << ": " << again.message;
    EXPECT_EQ(gw_.ImageRanges().back(), "bytes=" + std::to_string(kept) + "-");
    EXPECT_EQ(SlotContent("b"), image.bytes);
}

// Transient failures are retried with backoff within one boot; the attempts are bounded.
TEST_F(AgentTest, ServerErrorsAreRetriedUpToTheAttemptLimit) {
    const Image image = MakeImage(30000, 19);
    Offer(image, 1, "1.1.0");
    gw_.SetImage(image.sha256, image.bytes);
    gw_.SetImageMode(ImageMode::kCutOnce, 1000);
    BootOptions o = Opts();
    o.fetch.max_attempts = 1;
    EXPECT_EQ(Boot(o).reason, "download-failed");  // one attempt only: the cut ends it
    EXPECT_EQ(gw_.ImageRanges().size(), 1u);
    gw_.SetImageMode(ImageMode::kCutOnce, 2000);
    o.fetch.max_attempts = 3;
    o.fetch.backoff_initial = std::chrono::milliseconds(1);
    BootResult r = Boot(o);
    ASSERT_EQ(r.outcome, Outcome::kRebootPending) << r.reason << ": " << r.message;
    EXPECT_EQ(gw_.ImageRanges().size(), 3u);  // the resume, cut again, then the rest
}

TEST_F(AgentTest, AHangingHealthCheckTimesOutAndRollsBack) {
    Offer(MakeImage(5000, 20), 1, "1.1.0");
    ASSERT_EQ(Boot().outcome, Outcome::kRebootPending);
    BootOptions o = Opts();
    o.health_check = "sleep 600";
    o.health_check_timeout_s = 1;
    BootResult r = Boot(o);
    ASSERT_EQ(r.outcome, Outcome::kRolledBack) << r.reason << ": " << r.message;
    EXPECT_EQ(r.reason, "health-check-failed");
    EXPECT_NE(r.message.find("timed out"), std::string::npos) << r.message;
    EXPECT_EQ(State().installed.version, "0.0.0");
}

// --- bounded metadata exchanges (issue 10 item 4) --------------------------------------------

// Peak resident memory since the last ResetPeakRss(), in KiB (VmHWM of this process).
std::uint64_t PeakRssKib() {
    auto text = ReadFile("/proc/self/status", 1 << 16);
    if (!text) return 0;
    const auto at = text->find("VmHWM:");
    if (at == std::string::npos) return 0;
    return std::stoull(text->substr(at + 6));
}
std::uint64_t RssKib() {
    auto text = ReadFile("/proc/self/status", 1 << 16);
    if (!text) return 0;
    const auto at = text->find("VmRSS:");
    if (at == std::string::npos) return 0;
    return std::stoull(text->substr(at + 6));
}

TEST_F(AgentTest, A128MiBCheckAnswerIsRefusedAsItStreamsIn) {
    Install(MakeImage(4000, 31), 1, "1.1.0");
    const std::size_t reports_before = gw_.Reports().size();
    gw_.SetCheckMode(test::AnswerMode::kHuge);
    const std::uint64_t rss_before = RssKib();
    // Resets VmHWM to the current RSS (Linux clear_refs "5").
    std::ofstream clear_refs("/proc/self/clear_refs");
    const bool peak_reset = static_cast<bool>(clear_refs << "5" << std::flush);
    BootResult r = Boot();
    const std::uint64_t peak = PeakRssKib();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "answer-too-large") << r.message;
    // The cap (4 MiB) ends the exchange, not the end of the 128 MiB.
    EXPECT_LT(gw_.HostileBytesServed(), std::uint64_t{32} << 20);
    RecordProperty("rss_before_kib", std::to_string(rss_before));
    RecordProperty("peak_rss_kib", std::to_string(peak));
    RecordProperty("hostile_bytes_served", std::to_string(gw_.HostileBytesServed()));
    if (peak_reset) {
        // Before the cap streamed, the whole answer was read first: +264 MiB.
        EXPECT_LT(peak, rss_before + 16 * 1024)
            << "peak RSS " << peak << " KiB, before " << rss_before << " KiB";
    }
    // Still on the good slot, and the refusal is on the record, naming the running version.
    EXPECT_EQ(State().installed.version, "1.1.0");
    EXPECT_EQ(Slots().active, State().installed.slot);
    EXPECT_FALSE(Slots().try_once);
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), reports_before + 1);
    EXPECT_EQ(reports.back().state, "failed");
    EXPECT_EQ(reports.back().body["reason"], "answer-too-large");
    EXPECT_EQ(reports.back().ver, "1.1.0");
}

TEST_F(AgentTest, ATrickledCheckAnswerIsCutAtTheDeadline) {
    gw_.SetCheckMode(test::AnswerMode::kTrickle);
    gw_.SetTrickleInterval(std::chrono::milliseconds(2000));
    BootOptions o = Opts();
    o.check_deadline = std::chrono::milliseconds(1500);
    const auto start = std::chrono::steady_clock::now();
    BootResult r = Boot(o);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.reason, "slow-retrieval") << r.message;
    // The deadline ends the whole exchange: not one more trickle interval, nor the 1 MiB the
    // gateway announced at 1 byte per 2 s. (Ends at once after the deadline; the margin is for
    // a loaded machine, and stays below the next trickled byte plus the deadline.)
    EXPECT_GE(took, std::chrono::milliseconds(1500));
    EXPECT_LT(took, std::chrono::milliseconds(1500 + 1500));
    EXPECT_EQ(Slots().active, "a");
    EXPECT_EQ(State().phase, Phase::kIdle);
    // The failed report went out after the check (reports are a separate exchange).
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].body["reason"], "slow-retrieval");
    EXPECT_EQ(reports[0].ver, "0.0.0");
}

TEST_F(AgentTest, HostileReportAnswersKeepTheReportQueued) {
    const Image image = MakeImage(5000, 32);
    ReleaseSpec spec;
    spec.hardware = {"rev-z"};
    spec.sha256 = image.sha256;
    spec.size = image.bytes.size();
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 1}}), vendor_.Release(spec));
    gw_.SetReportMode(test::AnswerMode::kHuge);
    EXPECT_EQ(Boot().reason, "wrong-hardware");
    EXPECT_EQ(Queued(), 1u) << "a 128 MiB answer is not a delivery";
    EXPECT_LT(gw_.HostileBytesServed(), std::uint64_t{32} << 20);
    gw_.SetReportMode(test::AnswerMode::kTrickle);
    BootOptions o = Opts();
    o.report_deadline = std::chrono::milliseconds(1000);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(Boot(o).reason, "wrong-hardware");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3 * 2));
    EXPECT_EQ(Queued(), 2u);
    gw_.SetReportMode(test::AnswerMode::kNormal);
    OfferNothing(1);
    EXPECT_EQ(Boot().outcome, Outcome::kUpToDate);
    EXPECT_EQ(Queued(), 0u);
    EXPECT_EQ(gw_.Reports().size(), 2u);
}

// --- reports are never lost (issue 10 item 3) ------------------------------------------------

TEST_F(AgentTest, ACounterBehindTheLedgerIsResynchronisedAndTheReportDelivered) {
    Install(MakeImage(4000, 33), 1, "1.1.0");
    ASSERT_EQ(gw_.Reports().size(), 1u);
    const std::uint64_t used = State().report_counter;
    // The state was restored from a backup: the ledger holds counters this device has
    // forgotten.
    gw_.SetLedgerCounter(device_pub_, used + 40);
    const Image image = MakeImage(5000, 34);
    ReleaseSpec spec;
    spec.sequence = 2;
    spec.hardware = {"rev-z"};
    spec.sha256 = image.sha256;
    spec.size = image.bytes.size();
    gw_.SetAnswer({}, vendor_.Timestamp({{"cam", 2}}), vendor_.Release(spec));
    EXPECT_EQ(Boot().reason, "wrong-hardware");
    EXPECT_EQ(Queued(), 0u) << "the report was re-signed and delivered, not dropped";
    auto reports = gw_.Reports();
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_EQ(reports[1].state, "failed");
    EXPECT_EQ(reports[1].body["reason"], "wrong-hardware");
    EXPECT_EQ(reports[1].nonce, used + 41);
    EXPECT_TRUE(ParseTx(reports[1].ToJson())) << "signed again by the device key";
    const DeviceState st = State();
    EXPECT_EQ(st.report_counter, used + 41);
    EXPECT_EQ(st.resync.count, 1u);
    EXPECT_EQ(st.resync.stale_counter, used + 1);
    EXPECT_EQ(st.resync.ledger_counter, used + 40);
    EXPECT_EQ(st.resync.new_counter, used + 41);
    auto status = ReadStatus(dir_);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_EQ((*status)["report_resync"]["count"], 1);
    EXPECT_EQ((*status)["report_resync"]["ledger_counter"], used + 40);
    // The exact tx again (power lost before it left the queue) is a delivery, not a resync.
    ReportQueue q(dir_ + "/reports");
    ASSERT_TRUE(q.Enqueue(reports[1]));
    OfferNothing(2);
    EXPECT_EQ(Boot().outcome, Outcome::kUpToDate);
    EXPECT_EQ(Queued(), 0u);
    EXPECT_EQ(State().resync.count, 1u);
    EXPECT_EQ(gw_.Reports().size(), 2u);
}

}  // namespace
}  // namespace fwchain::device
