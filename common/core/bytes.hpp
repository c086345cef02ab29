#pragma once
// Byte strings and their lowercase hex form (the only way bytes appear in JSON).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fwchain {

using Bytes = std::vector<std::uint8_t>;
using Hash256 = std::array<std::uint8_t, 32>;

std::string ToHex(const std::uint8_t* data, std::size_t size);
inline std::string ToHex(const Bytes& b) { return ToHex(b.data(), b.size()); }
template <std::size_t N>
std::string ToHex(const std::array<std::uint8_t, N>& b) {
    return ToHex(b.data(), N);
}
inline std::string ToHex(std::string_view s) {
    return ToHex(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Strict: lowercase only, even length. Returns nullopt on anything else.
std::optional<Bytes> FromHex(std::string_view hex);
std::optional<Hash256> Hash256FromHex(std::string_view hex);
// True when `s` is exactly `n` bytes written as lowercase hex.
bool IsHex(std::string_view s, std::size_t n_bytes);
// Decodes exactly `n_bytes` bytes of strict lowercase hex into `out` without allocating; false
// (and `out` unspecified) when `hex` is not exactly that, as FromHex would refuse it.
bool FromHexTo(std::string_view hex, std::uint8_t* out, std::size_t n_bytes);
template <std::size_t N>
bool FromHexTo(std::string_view hex, std::array<std::uint8_t, N>& out) {
    return FromHexTo(hex, out.data(), N);
}

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace fwchain
