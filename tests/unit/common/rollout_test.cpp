// The rollout rules (common/core/rollout.hpp): stage membership by a stable hash, the stage in
// force, the halt from device outcomes, and the decision's precedence.
#include "common/core/rollout.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fwchain {
namespace {

std::string Id(int i) { return "dev-" + std::to_string(i); }

TEST(RolloutBucket, IsStableAndSpreadsDevicesEvenly) {
    EXPECT_EQ(RolloutBucket("cam-001", "cam", 7), RolloutBucket("cam-001", "cam", 7));
    int in_ten = 0;
    int moved = 0;
    for (int i = 0; i < 20000; ++i) {
        const std::uint32_t b = RolloutBucket(Id(i), "cam", 7);
        ASSERT_LT(b, 10000u);
        in_ten += InRollout(b, 10) ? 1 : 0;
        moved += b != RolloutBucket(Id(i), "cam", 8) ? 1 : 0;
    }
    // 10 % of 20,000 = 2,000; a fair hash stays well within ±15 %.
    EXPECT_GT(in_ten, 1700);
    EXPECT_LT(in_ten, 2300);
    // Another release draws another first percent.
    EXPECT_GT(moved, 19000);
    // The fields are separated: ("ab","c") and ("a","bc") are different inputs.
    EXPECT_NE(RolloutBucket("c", "ab", 1), RolloutBucket("bc", "a", 1));
}

TEST(RolloutBucket, EachStageHoldsThePreviousOne) {
    for (int i = 0; i < 5000; ++i) {
        const std::uint32_t b = RolloutBucket(Id(i), "doorbell", 3);
        std::uint32_t prev = 0;
        for (std::uint32_t p : {1u, 5u, 10u, 50u, 100u}) {
            EXPECT_TRUE(!InRollout(b, prev) || InRollout(b, p)) << i << " " << p;
            prev = p;
        }
        EXPECT_TRUE(InRollout(b, 100));
        EXPECT_FALSE(InRollout(b, 0));
    }
}

TEST(RolloutStages, TheStageInForceFollowsTheClock) {
    Rollout r{{{1, 100}, {10, 200}, {100, 300}}, 0, 0};
    EXPECT_EQ(CurrentStage(r, 99), -1);
    EXPECT_EQ(CurrentStage(r, 100), 0);
    EXPECT_EQ(CurrentStage(r, 250), 1);
    EXPECT_EQ(CurrentStage(r, 300), 2);
    EXPECT_EQ(CurrentStage(r, 1'000'000), 2);
}

TEST(RolloutPolicy, RoundTripsAndRefusesBadStages) {
    Rollout r{{{1, 100}, {100, 300}}, 25, 10};
    auto back = Rollout::Parse(r.ToJson());
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, r);
    const char* bad[] = {
        R"({"stages":[]})",
        R"({"stages":[{"percent":0,"start":1}]})",
        R"({"stages":[{"percent":101,"start":1}]})",
        R"({"stages":[{"percent":50,"start":1},{"percent":10,"start":2}]})",
        R"({"stages":[{"percent":10,"start":5},{"percent":50,"start":2}]})",
        R"({"stages":[{"percent":10,"start":-1}]})",
        R"({"stages":[{"percent":10,"start":1}],"max_failure_rate":0})",
        R"({"stages":[{"percent":10,"start":1}],"min_reports":0})",
        R"({"stages":"all"})",
    };
    for (const char* text : bad) {
        auto j = ParseJson(text, 4096);
        ASSERT_TRUE(j) << text;
        EXPECT_FALSE(Rollout::Parse(*j)) << text;
    }
    Json many = Json{{"stages", Json::array()}};
    for (int i = 0; i <= static_cast<int>(kMaxRolloutStages); ++i) {
        many["stages"].push_back({{"percent", 100}, {"start", i}});
    }
    EXPECT_FALSE(Rollout::Parse(many));
}

TEST(OutcomeCounter, HaltsOnceTheShareCrossesTheLimitAfterMinReportsAndStaysHalted) {
    OutcomeCounter c(/*max_failure_rate=*/50, /*min_reports=*/4);
    RolloutEvidence e;
    c.Add("a", "failed");
    c.Add("b", "rolled-back");
    c.Add("c", "failed");
    c.Fill(e);
    EXPECT_FALSE(e.halted);  // 3 outcomes, fewer than min_reports
    c.Add("d", "installed");
    c.Fill(e);
    EXPECT_TRUE(e.halted);  // 3 of 4 above 50 %
    EXPECT_NE(e.halt_reason.find("3 of 4"), std::string::npos) << e.halt_reason;
    // Later successes do not lift a halt.
    for (int i = 0; i < 20; ++i) c.Add(Id(i), "installed");
    c.Fill(e);
    EXPECT_TRUE(e.halted);
    EXPECT_EQ(e.installed, 21u);
}

TEST(OutcomeCounter, CountsEachDeviceOnceByItsLatestOutcome) {
    OutcomeCounter c(50, 2);
    c.Add("a", "failed");
    c.Add("a", "failed");
    c.Add("a", "installed");  // retried and succeeded
    c.Add("b", "installed");
    c.Add("c", "up-to-date");  // not an outcome
    RolloutEvidence e;
    c.Fill(e);
    EXPECT_EQ(e.installed, 2u);
    EXPECT_EQ(e.failed, 0u);
    EXPECT_FALSE(e.halted);
    // Exactly at the limit is not above it.
    OutcomeCounter at(50, 2);
    at.Add("a", "failed");
    at.Add("b", "installed");
    at.Fill(e);
    EXPECT_FALSE(e.halted);
}

TEST(DecideRollout, AbortBeatsHaltBeatsPauseBeatsApprovalsBeatsTheSchedule) {
    const Rollout r{{{10, 100}, {100, 200}}, 0, 0};
    RolloutEvidence e;
    e.approvals = 1;
    auto d = DecideRollout(&r, 1, e, 150);
    EXPECT_EQ(d.phase, RolloutPhase::kActive);
    EXPECT_EQ(d.percent, 10u);
    EXPECT_EQ(d.stage, 0);
    EXPECT_EQ(DecideRollout(&r, 1, e, 250).phase, RolloutPhase::kComplete);
    EXPECT_EQ(DecideRollout(&r, 1, e, 50).phase, RolloutPhase::kScheduled);
    EXPECT_FALSE(DecideRollout(&r, 1, e, 50).Offered());
    EXPECT_EQ(DecideRollout(&r, 2, e, 250).phase, RolloutPhase::kWaitingApprovals);
    e.paused = true;
    EXPECT_EQ(DecideRollout(&r, 2, e, 250).phase, RolloutPhase::kPaused);
    e.halted = true;
    EXPECT_EQ(DecideRollout(&r, 2, e, 250).phase, RolloutPhase::kHalted);
    e.aborted = true;
    d = DecideRollout(&r, 2, e, 250);
    EXPECT_EQ(d.phase, RolloutPhase::kAborted);
    EXPECT_EQ(d.percent, 0u);
    // No rollout: everyone at once, unless held.
    RolloutEvidence none;
    EXPECT_EQ(DecideRollout(nullptr, 0, none, 0).percent, 100u);
    none.paused = true;
    EXPECT_EQ(DecideRollout(nullptr, 0, none, 0).percent, 0u);
}

}  // namespace
}  // namespace fwchain
