// Crypto++ adapter behind common/core/crypto.hpp. Crypto++ exceptions stop here.
#include <cryptopp/cryptlib.h>
#include <cryptopp/osrng.h>
#include <cryptopp/sha.h>
#include <cryptopp/xed25519.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

bool Verify(const PublicKey& pub, const std::uint8_t* msg, std::size_t size, const Signature& sig) {
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
