// The product-name rule every program shares (common/core/names.hpp).
#include "common/core/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fwchain {
namespace {

TEST(ProductName, OneLowercaseRule) {
    for (const char* ok : {"cam", "rev-b", "a1", "dev_01.x", "0", "cam.v2-b_c"}) {
        EXPECT_TRUE(ValidProductName(ok)) << ok;
    }
    // Upper case is refused: gateways name files by product and have always been lowercase.
    for (const char* bad : {"Cam", "CAM", "camA", "", ".", "..", ".hidden", "-x", "_x", "a/b",
                            "a b", "a\\b", "é", "a%2f", "a:b"}) {
        EXPECT_FALSE(ValidProductName(bad)) << bad;
    }
    EXPECT_FALSE(ValidProductName(std::string(65, 'a')));
    EXPECT_TRUE(ValidProductName(std::string(64, 'a')));
}

}  // namespace
}  // namespace fwchain
