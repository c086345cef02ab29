#pragma once
// Hashing and Ed25519 signatures. Implemented on Crypto++ in common/adapters/cryptopp.cpp;
// this header carries no Crypto++ types.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/core/bytes.hpp"
#include "common/core/expected.hpp"

namespace fwchain {

using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

Hash256 Sha256(const std::uint8_t* data, std::size_t size);
inline Hash256 Sha256(std::string_view s) {
    return Sha256(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
inline Hash256 Sha256(const Bytes& b) { return Sha256(b.data(), b.size()); }
inline std::string Sha256Hex(std::string_view s) { return ToHex(Sha256(s)); }

// Incremental SHA-256 for streams (image downloads, files).
class Sha256Stream {
  public:
    Sha256Stream();
    ~Sha256Stream();
    Sha256Stream(const Sha256Stream&) = delete;
    Sha256Stream& operator=(const Sha256Stream&) = delete;
    void Update(const void* data, std::size_t size);
    Hash256 Final();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// SHA-256 of a whole file, streamed in 64 KiB reads; returns lowercase hex.
Expected<std::string> Sha256File(const std::string& path);

// A key id is the lowercase hex SHA-256 of the raw 32-byte public key (DESIGN.md §3).
std::string KeyId(const PublicKey& pub);

class SigningKey {
  public:
    static SigningKey Generate();
    // From the 32-byte RFC 8032 private seed.
    static Expected<SigningKey> FromSeed(const Bytes& seed);
    // Loads {"type":"ed25519","private":hex,"public":hex}; refuses files readable by others.
    static Expected<SigningKey> Load(const std::string& path);
    // Writes with mode 0600, atomically. Never prints the private part.
    Status Save(const std::string& path) const;

    const PublicKey& Public() const { return public_; }
    std::string PublicHex() const { return ToHex(public_); }
    std::string Id() const { return KeyId(public_); }
    Signature Sign(const std::uint8_t* msg, std::size_t size) const;
    Signature Sign(std::string_view msg) const {
        return Sign(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size());
    }

  private:
    std::array<std::uint8_t, 32> seed_{};
    PublicKey public_{};
};

// Strict Ed25519 verification (RFC 8032 §5.1.7 plus the usual malleability rules): besides the
// group equation it refuses S >= L, an R or public key whose y coordinate is not below p, and
// an R or public key of small order (the 8 torsion points, in any sign). With these checks a
// valid signature cannot be turned into another valid signature of the same message without the
// private key (strong unforgeability), which is what makes tx ids stable (docs/protocol.md).
bool Verify(const PublicKey& pub, const std::uint8_t* msg, std::size_t size, const Signature& sig);
inline bool Verify(const PublicKey& pub, std::string_view msg, const Signature& sig) {
    return Verify(pub, reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size(), sig);
}
// The byte-level checks Verify applies before the curve arithmetic, exposed for tests.
// `s` and `point` are 32 little-endian bytes.
bool Ed25519ScalarIsCanonical(const std::uint8_t* s);      // S < L
bool Ed25519PointIsCanonical(const std::uint8_t* point);   // y < p
bool Ed25519PointIsSmallOrder(const std::uint8_t* point);  // one of the 8 torsion points

std::optional<PublicKey> PublicKeyFromHex(std::string_view hex);
std::optional<Signature> SignatureFromHex(std::string_view hex);

// Cryptographically secure random bytes.
void RandomBytes(std::uint8_t* out, std::size_t size);

}  // namespace fwchain
