// Crypto++ adapter behind common/core/crypto.hpp. Crypto++ exceptions stop here.
#include <cryptopp/cryptlib.h>
#include <cryptopp/osrng.h>
#include <cryptopp/sha.h>
#include <cryptopp/xed25519.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/json.hpp"

namespace fwchain {

Hash256 Sha256(const std::uint8_t* data, std::size_t size) {
    Hash256 out;
    CryptoPP::SHA256().CalculateDigest(out.data(), data, size);
    return out;
}

struct Sha256Stream::Impl {
    CryptoPP::SHA256 sha;
};

Sha256Stream::Sha256Stream() : impl_(std::make_unique<Impl>()) {}
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(const void* data, std::size_t size) {
    impl_->sha.Update(static_cast<const CryptoPP::byte*>(data), size);
}

Hash256 Sha256Stream::Final() {
    Hash256 out;
    impl_->sha.Final(out.data());
    return out;
}

Expected<std::string> Sha256File(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return Fail(Errc::kIo, "open-failed", "cannot open " + path + ": " + std::strerror(errno));
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    Sha256Stream sha;
    std::vector<std::uint8_t> buf(1 << 16);
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            return Fail(Errc::kIo, "read-failed", "cannot read " + path + ": " + std::strerror(e));
        }
        if (n == 0) break;
        sha.Update(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return ToHex(sha.Final());
}

std::string KeyId(const PublicKey& pub) { return ToHex(Sha256(pub.data(), pub.size())); }

void RandomBytes(std::uint8_t* out, std::size_t size) {
    CryptoPP::AutoSeededRandomPool rng;
    rng.GenerateBlock(out, size);
}

SigningKey SigningKey::Generate() {
    Bytes seed(32);
    RandomBytes(seed.data(), seed.size());
    return *FromSeed(seed);
}

Expected<SigningKey> SigningKey::FromSeed(const Bytes& seed) {
    if (seed.size() != 32) {
        return Fail(Errc::kInvalid, "bad-key", "an Ed25519 private key is 32 bytes");
    }
    SigningKey k;
    std::copy(seed.begin(), seed.end(), k.seed_.begin());
    try {
        CryptoPP::ed25519Signer signer(k.seed_.data());
        const auto& priv = dynamic_cast<const CryptoPP::ed25519PrivateKey&>(signer.GetPrivateKey());
        std::memcpy(k.public_.data(), priv.GetPublicKeyBytePtr(), 32);
    } catch (const std::exception& e) {
        return Fail(Errc::kInternal, "crypto", e.what());
    }
    return k;
}

Expected<SigningKey> SigningKey::Load(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return Fail(Errc::kIo, "key-missing", "cannot read key file " + path);
    }
    if ((st.st_mode & 077) != 0) {
        return Fail(Errc::kUnauthorized, "key-permissions",
                    "key file " + path + " is readable by others; chmod 600 it");
    }
    FW_ASSIGN(Json j, LoadJsonFile(path, 4096));
    auto priv = GetString(j, "private");
    if (!priv) return Fail(Context(priv.error(), "key file " + path));
    auto seed = FromHex(*priv);
    if (!seed) return Fail(Errc::kInvalid, "bad-key", "key file " + path + " is not hex");
    FW_ASSIGN(SigningKey k, FromSeed(*seed));
    auto pub = GetString(j, "public");
    if (pub && *pub != k.PublicHex()) {
        return Fail(Errc::kInvalid, "bad-key", "key file " + path + ": public key does not match");
    }
    return k;
}

Status SigningKey::Save(const std::string& path) const {
    Json j = {{"type", "ed25519"}, {"public", PublicHex()}, {"private", ToHex(seed_)}};
    return WriteFileAtomic(path, j.dump(2) + "\n", 0600);
}

Signature SigningKey::Sign(const std::uint8_t* msg, std::size_t size) const {
    Signature sig{};
    CryptoPP::ed25519Signer signer(public_.data(), seed_.data());
    signer.SignMessage(CryptoPP::NullRNG(), msg, size, sig.data());
    return sig;
}

namespace {

// L = 2^252 + 27742317777372353535851937790883648493, the order of the base point, little endian.
constexpr std::array<std::uint8_t, 32> kOrderL = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

// The y coordinates (sign bit cleared, little endian) of the points of order 1, 2, 4 and 8:
// y = 1 (identity), y = p - 1 (order 2), y = 0 (order 4, both x), and the two y of the order-8
// points (each with both x). Non-canonical encodings of these (y + p) fail the y < p check.
constexpr std::array<std::array<std::uint8_t, 32>, 5> kSmallOrderY = {{
    {0x01},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0x00},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
}};

}  // namespace

bool Ed25519ScalarIsCanonical(const std::uint8_t* s) {
    // Compare as little-endian integers, most significant byte first.
    for (int i = 31; i >= 0; --i) {
        const auto idx = static_cast<std::size_t>(i);
        if (s[idx] < kOrderL[idx]) return true;
        if (s[idx] > kOrderL[idx]) return false;
    }
    return false;  // S == L
}

bool Ed25519PointIsCanonical(const std::uint8_t* point) {
    // y >= p = 2^255 - 19 exactly when the low 255 bits are 0x7fff...ffed .. 0x7fff...ffff.
    if ((point[31] & 0x7f) != 0x7f) return true;
    for (std::size_t i = 1; i < 31; ++i) {
        if (point[i] != 0xff) return true;
    }
    return point[0] < 0xed;
}

bool Ed25519PointIsSmallOrder(const std::uint8_t* point) {
    for (const auto& y : kSmallOrderY) {
        if (std::memcmp(point, y.data(), 31) == 0 && (point[31] & 0x7f) == y[31]) return true;
    }
    return false;
}

bool Verify(const PublicKey& pub, const std::uint8_t* msg, std::size_t size, const Signature& sig) {
    // Crypto++ checks the group equation only: it accepts S + L for S (a relay could change a
    // signature, and so a tx id, without the key) and does not refuse torsion points.
    const std::uint8_t* r = sig.data();
    const std::uint8_t* s = sig.data() + 32;
    if (!Ed25519ScalarIsCanonical(s)) return false;
    if (!Ed25519PointIsCanonical(r) || !Ed25519PointIsCanonical(pub.data())) return false;
    if (Ed25519PointIsSmallOrder(r) || Ed25519PointIsSmallOrder(pub.data())) return false;
    try {
        CryptoPP::ed25519Verifier verifier(pub.data());
        return verifier.VerifyMessage(msg, size, sig.data(), sig.size());
    } catch (const std::exception&) {
        return false;
    }
}

std::optional<PublicKey> PublicKeyFromHex(std::string_view hex) {
    if (!IsHex(hex, 32)) return std::nullopt;
    auto b = FromHex(hex);
    PublicKey k{};
    std::copy(b->begin(), b->end(), k.begin());
    return k;
}

std::optional<Signature> SignatureFromHex(std::string_view hex) {
    if (!IsHex(hex, 64)) return std::nullopt;
    auto b = FromHex(hex);
    Signature s{};
    std::copy(b->begin(), b->end(), s.begin());
    return s;
}

}  // namespace fwchain
