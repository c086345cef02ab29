// The metrics registry renders the Prometheus text exposition format.
#include "common/core/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fwchain::metrics {
namespace {

bool Has(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

TEST(Metrics, CountersAndGaugesRenderWithHelpTypeAndLabels) {
    Registry r;
    auto& c = r.GetCounter("fwchain_test_checks_total", "Checks answered.");
    c.Inc();
    c.Inc(2);
    r.GetGauge("fwchain_test_height", "Tip height.", {{"chain", "main"}}).Set(42);
    r.AddGaugeFn("fwchain_test_sampled", "Read at scrape time.", [] { return 1.5; });
    const std::string out = r.Render();
    EXPECT_TRUE(Has(out, "# HELP fwchain_test_checks_total Checks answered.")) << out;
    EXPECT_TRUE(Has(out, "# TYPE fwchain_test_checks_total counter")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_checks_total 3")) << out;
    EXPECT_TRUE(Has(out, "# TYPE fwchain_test_height gauge")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_height{chain=\"main\"} 42")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_sampled 1.5")) << out;
}

TEST(Metrics, SameNameAndLabelsIsTheSameSeries) {
    Registry r;
    r.GetCounter("fwchain_test_total", "x", {{"k", "a"}}).Inc();
    r.GetCounter("fwchain_test_total", "x", {{"k", "a"}}).Inc();
    r.GetCounter("fwchain_test_total", "x", {{"k", "b"}}).Inc();
    const std::string out = r.Render();
    EXPECT_TRUE(Has(out, "fwchain_test_total{k=\"a\"} 2")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_total{k=\"b\"} 1")) << out;
    // One HELP/TYPE header per family.
    EXPECT_EQ(out.find("# TYPE fwchain_test_total"), out.rfind("# TYPE fwchain_test_total"));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
    Registry r;
    auto& h =
        r.GetHistogram("fwchain_test_seconds", "Latency.", {{"route", "/v1/x"}}, {0.125, 1.0});
    h.Observe(0.0625);
    h.Observe(0.125);  // on the bound: counted in le="0.125"
    h.Observe(0.5);
    h.Observe(7);
    const std::string out = r.Render();
    EXPECT_TRUE(Has(out, "# TYPE fwchain_test_seconds histogram")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_seconds_bucket{route=\"/v1/x\",le=\"0.125\"} 2")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_seconds_bucket{route=\"/v1/x\",le=\"1\"} 3")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_seconds_bucket{route=\"/v1/x\",le=\"+Inf\"} 4")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_seconds_sum{route=\"/v1/x\"} 7.6875")) << out;
    EXPECT_TRUE(Has(out, "fwchain_test_seconds_count{route=\"/v1/x\"} 4")) << out;
}

TEST(Metrics, LabelValuesAreEscaped) {
    Registry r;
    r.GetCounter("fwchain_test_total", "x", {{"route", "a\"b\\c\nd"}}).Inc();
    EXPECT_TRUE(Has(r.Render(), "fwchain_test_total{route=\"a\\\"b\\\\c\\nd\"} 1")) << r.Render();
}

}  // namespace
}  // namespace fwchain::metrics
