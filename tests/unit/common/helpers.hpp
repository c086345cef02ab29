#pragma once
// Deterministic keys and small helpers shared by the common/ unit tests.
#include <cstdint>
#include <string>

#include "common/core/crypto.hpp"

namespace fwchain::test {

// A key from a fixed seed (all bytes = tag), so failures reproduce exactly.
inline SigningKey TestKey(std::uint8_t tag) { return *SigningKey::FromSeed(Bytes(32, tag)); }

inline Bytes MustHex(const std::string& hex) {
    auto b = FromHex(hex);
    return b ? *b : Bytes{};
}

}  // namespace fwchain::test
