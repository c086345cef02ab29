#include "tests/unit/device-agent/test_vendor.hpp"

#include <gtest/gtest.h>

#include "common/core/fs.hpp"
#include "common/core/tx_bodies.hpp"

namespace fwchain::device::test {

Image MakeImage(std::size_t size, std::uint32_t seed) {
    std::string bytes(size, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : bytes) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x & 0xff);
    }
    return Image(std::move(bytes));
}

TestVendor::TestVendor()
    : root_key_(SigningKey::Generate()),
      release_key_(SigningKey::Generate()),
      timestamp_key_(SigningKey::Generate()) {
    root_.vendor = name_;
    root_.version = 1;
    root_.issued = NowSeconds() - 60;
    root_.expires = NowSeconds() + 365 * 86400;
    for (const SigningKey* k : {&root_key_, &release_key_, &timestamp_key_}) {
        root_.keys[k->Id()] = k->Public();
    }
    root_.roles["root"] = RoleKeys{{root_key_.Id()}, 1};
    root_.roles["release"] = RoleKeys{{release_key_.Id()}, 1};
    root_.roles["timestamp"] = RoleKeys{{timestamp_key_.Id()}, 1};
    root_.roles["admission"] = RoleKeys{{root_key_.Id()}, 1};
    SignRoot({&root_key_});
}

void TestVendor::SignRoot(const std::vector<const SigningKey*>& keys) {
    root_.envelope = SignDocument(MakeRootSigned(root_), keys);
    roots_.push_back(root_.envelope);
}

void TestVendor::RotateRoot() {
    SigningKey old_key = root_key_;
    root_key_ = SigningKey::Generate();
    root_.keys.erase(old_key.Id());
    root_.keys[root_key_.Id()] = root_key_.Public();
    root_.roles["root"] = RoleKeys{{root_key_.Id()}, 1};
    root_.roles["admission"] = RoleKeys{{root_key_.Id()}, 1};
    root_.version += 1;
    root_.issued = NowSeconds() - 30;
    SignRoot({&old_key, &root_key_});
}

Envelope TestVendor::Timestamp(const std::map<std::string, std::uint64_t>& latest,
                               std::int64_t issued, std::int64_t expires) {
    return SignDocument(MakeTimestampSigned(++ts_version_, issued, expires, latest, manifests_,
                                            checkpoint_, root_.version),
                        {&timestamp_key_});
}

void TestVendor::SetReleaseBlock(const Envelope& manifest, LedgerPoint block) {
    const Json& m = manifest.signed_doc;
    manifests_[m["product"].get<std::string>()][m["sequence"].get<std::uint64_t>()].block = block;
}

Envelope TestVendor::Timestamp(const std::map<std::string, std::uint64_t>& latest) {
    const std::int64_t now = NowSeconds();
    return Timestamp(latest, now - 10, now + 86400);
}

Envelope TestVendor::Release(const ReleaseSpec& spec) const {
    Envelope env = UnlistedRelease(spec);
    manifests_[spec.product][spec.sequence] = ManifestEntry{env.SignedHash(), std::nullopt};
    return env;
}

Envelope TestVendor::UnlistedRelease(const ReleaseSpec& spec) const {
    const std::int64_t now = NowSeconds();
    ReleaseManifest m;
    m.vendor = name_;
    m.product = spec.product;
    m.hardware = spec.hardware;
    m.version = spec.version;
    m.sequence = spec.sequence;
    m.image = ImageInfo{spec.sha256, spec.size, "fw.bin"};
    m.source = ReleaseSource{"https://example.com/fw.git", "v" + spec.version, std::string(40, 'a'),
                             "ci", ""};
    m.created = now - 5;
    m.expires = now + spec.expires_in;
    return SignDocument(m.ToJson(), {spec.key ? spec.key : &release_key_});
}

Tx TestVendor::ReleaseTx(const Envelope& manifest, const SigningKey* key) const {
    const Json& m = manifest.signed_doc;
    Tx tx;
    tx.type = txtype::kRelease;
    tx.recipient = m["product"].get<std::string>();
    tx.ver = m["version"].get<std::string>();
    tx.verifier = m["image"]["sha256"].get<std::string>();
    tx.time = NowSeconds();
    tx.nonce = 42;
    tx.body = ReleaseTxBody{m["sequence"].get<std::uint64_t>(), manifest.SignedHash(),
                            m["hardware"].get<std::vector<std::string>>(), std::nullopt, 0}
                  .ToJson();
    tx.SignWith(key ? *key : release_key_);
    return tx;
}

std::string TestVendor::Provision(const std::string& dir, const std::string& device_id,
                                  std::uint64_t max_image_size, bool has_rtc) const {
    EXPECT_TRUE(MakeDirs(dir, 0755));
    SigningKey key = SigningKey::Generate();
    EXPECT_TRUE(key.Save(dir + "/device.key"));
    Json device{{"device_id", device_id},
                {"vendor", name_},
                {"product", "cam"},
                {"hardware", "rev-b"},
                {"max_image_size", max_image_size}};
    if (!has_rtc) device["has_rtc"] = false;
    EXPECT_TRUE(WriteFileAtomic(dir + "/device.json", device.dump()));
    EXPECT_TRUE(WriteFileAtomic(dir + "/root.json", roots_.front().Serialize()));
    return key.PublicHex();
}

}  // namespace fwchain::device::test
