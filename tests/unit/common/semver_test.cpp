// Semantic version parsing and precedence (semver.org 2.0.0 §9–§11).
#include "common/core/semver.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fwchain {
namespace {

TEST(SemVer, ParsesValidVersions) {
    struct Case {
        std::string text;
        std::uint64_t major, minor, patch;
        std::vector<std::string> pre;
        std::string build;
        std::string canonical;
    };
    const std::vector<Case> cases = {
        {"0.0.0", 0, 0, 0, {}, "", "0.0.0"},
        {"1.4.2", 1, 4, 2, {}, "", "1.4.2"},
        {"v1.4.2", 1, 4, 2, {}, "", "1.4.2"},
        {"10.20.30", 10, 20, 30, {}, "", "10.20.30"},
        {"1.0.0-alpha", 1, 0, 0, {"alpha"}, "", "1.0.0-alpha"},
        {"1.0.0-alpha.1", 1, 0, 0, {"alpha", "1"}, "", "1.0.0-alpha.1"},
        {"1.0.0-0.3.7", 1, 0, 0, {"0", "3", "7"}, "", "1.0.0-0.3.7"},
        {"1.0.0-x-y-z.--", 1, 0, 0, {"x-y-z", "--"}, "", "1.0.0-x-y-z.--"},
        {"1.0.0+20130313144700", 1, 0, 0, {}, "20130313144700", "1.0.0+20130313144700"},
        {"1.0.0-beta+exp.sha.5114f85",
         1,
         0,
         0,
         {"beta"},
         "exp.sha.5114f85",
         "1.0.0-beta+exp.sha.5114f85"},
        {"18446744073709551615.0.0", UINT64_MAX, 0, 0, {}, "", "18446744073709551615.0.0"},
    };
    for (const auto& c : cases) {
        auto v = SemVer::Parse(c.text);
        ASSERT_TRUE(v) << c.text;
        EXPECT_EQ(v->major, c.major) << c.text;
        EXPECT_EQ(v->minor, c.minor) << c.text;
        EXPECT_EQ(v->patch, c.patch) << c.text;
        EXPECT_EQ(v->prerelease, c.pre) << c.text;
        EXPECT_EQ(v->build, c.build) << c.text;
        EXPECT_EQ(v->ToString(), c.canonical) << c.text;
    }
}

TEST(SemVer, RejectsInvalid) {
    const std::vector<std::string> bad = {
        "",
        "1",
        "1.0",
        "1.0.",
        ".1.0",
        "1..0",
        "1.0.0.0",
        "01.0.0",
        "1.01.0",
        "1.0.01",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-+meta",
        "1.0.0-alpha.",
        "1.0.0-alpha..1",
        "1.0.0-01",
        "1.0.0-alpha_beta",
        "1.0.0+a b",
        "1.0.0+a+b",
        "1.0.0+a..b",
        "1.0.0+a.",
        "1.0.0+build_1",
        "1.0.0-é",
        "-1.0.0",
        "1.-1.0",
        "a.b.c",
        "1.0.0 ",
        " 1.0.0",
        "V1.0.0",
        "vv1.0.0",
        "18446744073709551616.0.0",
    };
    for (const auto& s : bad) EXPECT_FALSE(SemVer::Parse(s)) << "accepted \"" << s << "\"";
}

TEST(SemVer, PrecedenceFollowsSemverOrg) {
    // semver.org §11 examples, in increasing order.
    const std::vector<std::string> ordered = {
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
        "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
        "1.0.0-rc.1",  "1.0.0",         "1.0.1",
        "1.1.0",       "1.9.0",         "1.10.0",
        "1.11.0",      "2.0.0",         "10.0.0",
    };
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        auto a = SemVer::Parse(ordered[i]);
        ASSERT_TRUE(a) << ordered[i];
        for (std::size_t j = 0; j < ordered.size(); ++j) {
            auto b = SemVer::Parse(ordered[j]);
            ASSERT_TRUE(b) << ordered[j];
            const int want = i < j ? -1 : (i > j ? 1 : 0);
            const int got = a->Compare(*b);
            EXPECT_EQ(got < 0 ? -1 : (got > 0 ? 1 : 0), want) << ordered[i] << " vs " << ordered[j];
            EXPECT_EQ(*a < *b, i < j) << ordered[i] << " < " << ordered[j];
        }
    }
}

TEST(SemVer, BuildMetadataIgnoredInPrecedence) {
    EXPECT_TRUE(*SemVer::Parse("1.0.0+a") == *SemVer::Parse("1.0.0+b"));
    EXPECT_TRUE(*SemVer::Parse("v1.0.0") == *SemVer::Parse("1.0.0"));
    EXPECT_TRUE(*SemVer::Parse("1.0.0-rc.1+x") < *SemVer::Parse("1.0.0"));
    // Numeric identifiers compare numerically, and below alphanumeric ones.
    EXPECT_TRUE(*SemVer::Parse("1.0.0-2") < *SemVer::Parse("1.0.0-10"));
    EXPECT_TRUE(*SemVer::Parse("1.0.0-999") < *SemVer::Parse("1.0.0-a"));
    EXPECT_TRUE(*SemVer::Parse("1.0.0-A") < *SemVer::Parse("1.0.0-a"));  // ASCII order
}

}  // namespace
}  // namespace fwchain
