#include "device-agent/verify.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "device-agent/fetch.hpp"

namespace fwchain::device {

namespace {

std::string TrustedRootPath(const std::string& dir) { return dir + "/trusted_root.json"; }

Status StoreTrustedRoot(const std::string& dir, const Root& root) {
    return WriteFileAtomic(TrustedRootPath(dir), root.envelope.Serialize() + "\n", 0644);
}

}  // namespace

Expected<Root> LoadTrustedRoot(const std::string& state_dir) {
    const std::string trusted_path = TrustedRootPath(state_dir);
    if (FileExists(trusted_path)) {
        // Written by this agent after verification; the state dir is trusted storage.
        FW_ASSIGN(std::string text, ReadFile(trusted_path, 4 << 20));
        FW_ASSIGN(Envelope env, ParseEnvelope(std::string_view(text)));
        auto root = ParseRoot(env);
        if (!root) return Fail(Context(root.error(), "reading " + trusted_path));
        return root;
    }
    const std::string pinned_path = state_dir + "/root.json";
    auto text = ReadFile(pinned_path, 4 << 20);
    if (!text) return Fail(Context(text.error(), "reading the pinned root " + pinned_path));
    FW_ASSIGN(Envelope env, ParseEnvelope(std::string_view(*text)));
    FW_ASSIGN(Root parsed, ParseRoot(env));
    // Expiry is judged once the chain has been walked (a device may be provisioned long before
    // it first runs, when only a newer root is current): here only the self-signatures count.
    auto root = VerifyInitialRoot(env, parsed.issued);
    if (!root) return Fail(Context(root.error(), "pinned root " + pinned_path));
    FW_TRY(StoreTrustedRoot(state_dir, *root));
    return root;
}

Expected<Root> UpdateTrustedRoot(const std::string& state_dir, const Root& trusted,
                                 const Json& roots, std::int64_t now) {
    if (!roots.is_array()) return Fail(Errc::kInvalid, "bad-answer", "roots is not an array");
    if (roots.size() > kMaxRootsPerCheck) {
        return Fail(Errc::kTooLarge, "too-many-roots", "the answer carries too many roots");
    }
    std::vector<Envelope> newer;
    for (const auto& r : roots) {
        FW_ASSIGN(Envelope env, ParseEnvelope(r));
        FW_ASSIGN(Root parsed, ParseRoot(env));
        if (parsed.version <= trusted.version) continue;  // already trusted
        newer.push_back(std::move(env));
    }
    FW_ASSIGN(Root final_root, VerifyRootChain(trusted, newer, now));
    if (final_root.version > trusted.version) FW_TRY(StoreTrustedRoot(state_dir, final_root));
    return final_root;
}

Expected<Timestamp> CheckTimestamp(const Root& root, const Json& timestamp, std::int64_t now,
                                   const AcceptedMark& last) {
    FW_ASSIGN(Envelope env, ParseEnvelope(timestamp));
    auto verified = VerifyTimestamp(root, env, now, last);
    if (verified) return verified;
    // Tell a frozen gateway apart from a forged document: an expired timestamp that would
    // verify at its own issue time is genuine but stale.
    auto parsed = ParseTimestamp(env);
    if (parsed && parsed->expires <= now && VerifyTimestamp(root, env, parsed->issued, last)) {
        return Fail(Errc::kVerify, "stale-timestamp",
                    "timestamp version " + std::to_string(parsed->version) + " expired at " +
                        std::to_string(parsed->expires) + ", the device's time is at least " +
                        std::to_string(now));
    }
    return verified;
}

Expected<Release> CheckRelease(const Root& root, const Json& manifest, std::int64_t now,
                               const DeviceMatch& device, const Timestamp& ts) {
    FW_ASSIGN(Envelope env, ParseEnvelope(manifest));
    FW_ASSIGN(Release release, VerifyRelease(root, env, now, device, ts));
    // The hash names a URL path and a file: never trust its shape to the verifier alone.
    if (!IsHex(release.image.sha256, 32)) {
        return Fail(Errc::kInvalid, "bad-manifest", "image.sha256 is not a SHA-256 hex string");
    }
    return release;
}

namespace {

Expected<std::string> Sha256Prefix(const std::string& path, std::uint64_t size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail(Errc::kIo, "slot-io", "cannot open " + path);
    Sha256Stream hash;
    std::vector<std::uint8_t> buf(64 << 10);
    std::uint64_t done = 0;
    while (done < size) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - done));
        const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        hash.Update(buf.data(), static_cast<std::size_t>(n));
        done += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    if (done != size) {
        return Fail(Errc::kVerify, "hash-mismatch",
                    "slot " + path + " holds fewer than " + std::to_string(size) + " bytes");
    }
    return ToHex(hash.Final());
}

}  // namespace

Status VerifySlotImage(const std::string& path, const std::string& sha256, std::uint64_t size,
                       bool raw) {
    if (raw) {
        FW_ASSIGN(std::string digest, Sha256Prefix(path, size));
        if (digest != sha256) {
            return Fail(Errc::kVerify, "hash-mismatch",
                        "slot SHA-256 " + digest + " differs from the manifest's " + sha256);
        }
        return {};
    }
    const std::uint64_t have = FileSize(path);
    if (have != size) {
        return Fail(Errc::kVerify, "hash-mismatch",
                    "slot holds " + std::to_string(have) + " bytes, the manifest says " +
                        std::to_string(size));
    }
    FW_ASSIGN(std::string digest, Sha256File(path));
    if (digest != sha256) {
        return Fail(Errc::kVerify, "hash-mismatch",
                    "slot SHA-256 " + digest + " differs from the manifest's " + sha256);
    }
    return {};
}

}  // namespace fwchain::device
