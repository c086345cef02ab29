#include "common/core/bytes.hpp"

namespace fwchain {

std::string ToHex(const std::uint8_t* data, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0x0f];
    }
    return out;
}

namespace {
int Nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}
}  // namespace

std::optional<Bytes> FromHex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    Bytes out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = Nibble(hex[2 * i]);
        int lo = Nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return out;
}

std::optional<Hash256> Hash256FromHex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    auto b = FromHex(hex);
    if (!b) return std::nullopt;
    Hash256 h{};
    std::copy(b->begin(), b->end(), h.begin());
    return h;
}

bool IsHex(std::string_view s, std::size_t n_bytes) {
    if (s.size() != n_bytes * 2) return false;
    for (char c : s) {
        if (Nibble(c) < 0) return false;
    }
    return true;
}

}  // namespace fwchain
