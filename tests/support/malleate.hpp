#pragma once
// Test support: the Ed25519 malleation a relay could try without the key.
#include <cstddef>
#include <cstdint>

namespace fwchain::test {

// Replaces S of a 64-byte signature R||S by S + L (the group order), little endian: a second
// signature Crypto++'s own verifier accepts, which strict verification (RFC 8032 §5.1.7) refuses.
inline void AddOrderToS(std::uint8_t* sig64) {
    static const std::uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                        0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                        0,    0,    0,    0,    0,    0,    0,    0,
                                        0,    0,    0,    0,    0,    0,    0,    0x10};
    unsigned carry = 0;
    for (std::size_t i = 0; i < 32; ++i) {
        const unsigned v = sig64[32 + i] + kL[i] + carry;
        sig64[32 + i] = static_cast<std::uint8_t>(v & 0xff);
        carry = v >> 8;
    }
}

}  // namespace fwchain::test
