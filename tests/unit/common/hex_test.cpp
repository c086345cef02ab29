// Lowercase hex is the only form of bytes in signed JSON: the parser must be strict.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/bytes.hpp"

namespace fwchain {
namespace {

TEST(Hex, RoundTripsEveryByteValue) {
    Bytes all(256);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
    const std::string hex = ToHex(all);
    ASSERT_EQ(hex.size(), 512u);
    EXPECT_EQ(hex.substr(0, 8), "00010203");
    EXPECT_EQ(hex.substr(504), "fcfdfeff");
    auto back = FromHex(hex);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, all);
}

TEST(Hex, KnownEncodings) {
    struct Case {
        Bytes bytes;
        std::string hex;
    };
    const std::vector<Case> cases = {
        {{}, ""},
        {{0x00}, "00"},
        {{0xab, 0xcd, 0xef}, "abcdef"},
        {{0x01, 0x23, 0x45, 0x67, 0x89}, "0123456789"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(ToHex(c.bytes), c.hex);
        auto b = FromHex(c.hex);
        ASSERT_TRUE(b) << c.hex;
        EXPECT_EQ(*b, c.bytes) << c.hex;
    }
    EXPECT_EQ(ToHex(std::string_view("AZ")), "415a");
}

TEST(Hex, RejectsNonCanonicalInput) {
    const std::vector<std::string> bad = {
        "AB",                   // uppercase
        "aB",                   // mixed case
        "abc",                  // odd length
        "0",                    // odd length
        "zz",                   // not hex
        "0g",                   // not hex
        "0x00",                 // prefix
        " 00",                  // whitespace
        "00 ",                  // whitespace
        std::string("0\0", 2),  // NUL
    };
    for (const auto& s : bad) {
        EXPECT_FALSE(FromHex(s)) << "\"" << s << "\"";
        EXPECT_FALSE(IsHex(s, s.size() / 2)) << "\"" << s << "\"";
    }
}

TEST(Hex, IsHexChecksLength) {
    EXPECT_TRUE(IsHex("00ff", 2));
    EXPECT_FALSE(IsHex("00ff", 1));
    EXPECT_FALSE(IsHex("00ff", 3));
    EXPECT_TRUE(IsHex("", 0));
}

TEST(Hex, Hash256FromHex) {
    const std::string h(64, 'e');
    auto v = Hash256FromHex(h);
    ASSERT_TRUE(v);
    EXPECT_EQ(ToHex(*v), h);
    EXPECT_FALSE(Hash256FromHex(std::string(62, 'e')));
    EXPECT_FALSE(Hash256FromHex(std::string(66, 'e')));
    EXPECT_FALSE(Hash256FromHex(std::string(64, 'E')));
}

// FromHex, IsHex, FromHexTo and Hash256FromHex are table-driven; each must accept exactly what
// the plain two-range check accepts, with the same bytes, for every pair of input bytes.
int ReferenceNibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

TEST(Hex, EveryCharacterPairDecodesAsTheReference) {
    for (int a = 0; a < 256; ++a) {
        for (int b = 0; b < 256; ++b) {
            const std::string s{static_cast<char>(a), static_cast<char>(b)};
            const int hi = ReferenceNibble(s[0]);
            const int lo = ReferenceNibble(s[1]);
            const bool valid = hi >= 0 && lo >= 0;
            auto v = FromHex(s);
            ASSERT_EQ(v.has_value(), valid) << a << " " << b;
            ASSERT_EQ(IsHex(s, 1), valid) << a << " " << b;
            std::uint8_t out = 0;
            ASSERT_EQ(FromHexTo(s, &out, 1), valid) << a << " " << b;
            if (valid) {
                ASSERT_EQ((*v)[0], static_cast<std::uint8_t>(hi * 16 + lo));
                ASSERT_EQ(out, (*v)[0]);
            }
        }
    }
}

TEST(Hex, FromHexToNeedsTheExactLength) {
    std::array<std::uint8_t, 4> out{};
    EXPECT_TRUE(FromHexTo("0a1b2c3d", out));
    EXPECT_EQ(out, (std::array<std::uint8_t, 4>{0x0a, 0x1b, 0x2c, 0x3d}));
    EXPECT_FALSE(FromHexTo("0a1b2c", out));
    EXPECT_FALSE(FromHexTo("0a1b2c3d4e", out));
    EXPECT_FALSE(FromHexTo("0a1b2c3", out));
    EXPECT_FALSE(FromHexTo("0a1b2c3D", out));
    // A bad character anywhere, not only in the first pair.
    const std::string good(64, 'c');
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (char bad : {'C', 'g', ' ', '\0', '/', ':', '`', 'G', '\xff'}) {
            std::string s = good;
            s[i] = bad;
            EXPECT_FALSE(Hash256FromHex(s)) << i;
            EXPECT_FALSE(IsHex(s, 32)) << i;
            EXPECT_FALSE(FromHex(s)) << i;
        }
    }
    EXPECT_TRUE(Hash256FromHex(good));
}

}  // namespace
}  // namespace fwchain
