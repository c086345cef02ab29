// Upload caps and windows of `gateway run --swarm-upload-limit / --swarm-window`
// (common/core/bandwidth.hpp).
#include "common/core/bandwidth.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace fwchain {
namespace {

TEST(Rate, PlainBytesAndUnits) {
    const std::vector<std::pair<std::string, std::int64_t>> ok = {
        {"0", 0},
        {"2000000", 2000000},
        {"2MB/s", 2000000},
        {"2MB", 2000000},
        {"1.5MB/s", 1500000},
        {"500kB/s", 500000},
        {"500KB/s", 500000},
        {"1KiB/s", 1024},
        {"2MiB/s", 2 * 1048576},
        {"1GiB", 1073741824},
        {"1GB/s", 1000000000},
        {"8Mbit/s", 1000000},
        {"100kbit/s", 12500},
        {"1Gbit", 125000000},
        {"10B/s", 10},
        {" 3 MB/s ", 3000000},
    };
    for (const auto& [text, bytes] : ok) {
        auto r = ParseRate(text);
        ASSERT_TRUE(r) << text << ": " << r.error().ToString();
        EXPECT_EQ(*r, bytes) << text;
    }
}

TEST(Rate, AnythingElseIsRefusedWithItsReason) {
    for (const char* bad : {"", "MB/s", "-1", "2 mb/s", "2MBps", "1.5", ".5MB", "5.MB", "2XB/s",
                            "1e3", "2MB/s/s", "abc", "99999999999999999999", "/s"}) {
        auto r = ParseRate(bad);
        ASSERT_FALSE(r) << bad << " = " << *r;
        EXPECT_EQ(r.error().reason, "bad-rate") << bad;
    }
}

TEST(TimeWindowParse, ClockTimesAndRefusals) {
    auto night = ParseTimeWindow("22:00-06:00");
    ASSERT_TRUE(night);
    EXPECT_EQ(*night, (TimeWindow{22 * 60, 6 * 60}));
    EXPECT_EQ(FormatTimeWindow(*night), "22:00-06:00");
    auto day = ParseTimeWindow("00:00-24:00");
    ASSERT_TRUE(day);
    EXPECT_EQ(*day, (TimeWindow{0, 1440}));
    auto lunch = ParseTimeWindow("12:30-13:45");
    ASSERT_TRUE(lunch);
    EXPECT_EQ(*lunch, (TimeWindow{12 * 60 + 30, 13 * 60 + 45}));
    for (const char* bad : {"", "22:00", "22:00-", "-06:00", "24:00-06:00", "22:60-23:00",
                            "25:00-01:00", "2:00-06:00", "22:00-6:00", "22:00-24:01", "aa:bb-cc:dd",
                            "22:00_06:00", "22:00-06:00-07:00"}) {
        auto w = ParseTimeWindow(bad);
        ASSERT_FALSE(w) << bad;
        EXPECT_EQ(w.error().reason, "bad-window") << bad;
    }
}

TEST(TimeWindowParse, InsideOutsideAndAcrossMidnight) {
    const TimeWindow night{22 * 60, 6 * 60};
    const TimeWindow lunch{12 * 60, 13 * 60};
    const std::vector<TimeWindow> both = {night, lunch};
    struct Case {
        int minute;
        bool inside;
    };
    for (const Case& c : std::vector<Case>{{22 * 60, true},
                                           {23 * 60 + 59, true},
                                           {0, true},
                                           {6 * 60 - 1, true},
                                           {6 * 60, false},  // the end is excluded
                                           {12 * 60 - 1, false},
                                           {12 * 60, true},
                                           {12 * 60 + 59, true},
                                           {13 * 60, false},
                                           {21 * 60 + 59, false}}) {
        EXPECT_EQ(InWindows(both, c.minute), c.inside) << c.minute;
    }
    EXPECT_TRUE(InWindows({}, 3 * 60)) << "no window: always";
    EXPECT_TRUE(InWindows({TimeWindow{0, 1440}}, 17 * 60));
    EXPECT_TRUE(InWindows({TimeWindow{5 * 60, 5 * 60}}, 4 * 60)) << "start == end: all day";
    EXPECT_FALSE(InWindows({lunch}, 0));
}

}  // namespace
}  // namespace fwchain
