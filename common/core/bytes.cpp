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

// Nibble value of each byte, 0xff for anything but 0-9 and a-f (strict lowercase): one table
// load per character instead of two range checks (hex decoding is on every tx's path).
struct NibbleTable {
    std::uint8_t v[256];
    constexpr NibbleTable() : v() {
        for (int i = 0; i < 256; ++i) v[i] = 0xff;
        for (int c = '0'; c <= '9'; ++c) v[c] = static_cast<std::uint8_t>(c - '0');
        for (int c = 'a'; c <= 'f'; ++c) v[c] = static_cast<std::uint8_t>(c - 'a' + 10);
    }
};
constexpr NibbleTable kNibbles;

inline std::uint8_t Nibble(char c) { return kNibbles.v[static_cast<unsigned char>(c)]; }

// Decodes hex.size() / 2 bytes (hex.size() even); false on any non-hex character.
bool Decode(std::string_view hex, std::uint8_t* out) {
    const std::size_t n = hex.size() / 2;
    std::uint8_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t hi = Nibble(hex[2 * i]);
        const std::uint8_t lo = Nibble(hex[2 * i + 1]);
        bad |= static_cast<std::uint8_t>(hi | lo);
        out[i] = static_cast<std::uint8_t>((hi << 4) | (lo & 0x0f));
    }
    // A valid nibble is at most 0x0f, an invalid one 0xff.
    return (bad & 0xf0) == 0;
}

}  // namespace

std::optional<Bytes> FromHex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    Bytes out(hex.size() / 2);
    if (!Decode(hex, out.data())) return std::nullopt;
    return out;
}

bool FromHexTo(std::string_view hex, std::uint8_t* out, std::size_t n_bytes) {
    return hex.size() == n_bytes * 2 && Decode(hex, out);
}

std::optional<Hash256> Hash256FromHex(std::string_view hex) {
    Hash256 h{};
    if (!FromHexTo(hex, h)) return std::nullopt;
    return h;
}

bool IsHex(std::string_view s, std::size_t n_bytes) {
    if (s.size() != n_bytes * 2) return false;
    std::uint8_t bad = 0;
    for (char c : s) bad |= Nibble(c);
    return (bad & 0xf0) == 0;
}

}  // namespace fwchain
