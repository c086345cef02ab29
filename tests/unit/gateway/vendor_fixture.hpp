#pragma once
// An in-memory vendor for gateway unit tests: keys, root v1, timestamps and release manifests.
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"

namespace fwchain::test {

struct TestVendor {
    SigningKey root_key = SigningKey::Generate();
    SigningKey release_key = SigningKey::Generate();
    SigningKey timestamp_key = SigningKey::Generate();
    std::int64_t now = NowSeconds();

    Envelope RootV(std::uint64_t version, const SigningKey& signer) const {
        Root r;
        r.vendor = "acme";
        r.version = version;
        r.issued = now;
        r.expires = now + 86400 * 365;
        for (const SigningKey* k : {&root_key, &release_key, &timestamp_key}) {
            r.keys[k->Id()] = k->Public();
        }
        r.roles["root"] = RoleKeys{{root_key.Id()}, 1};
        r.roles["release"] = RoleKeys{{release_key.Id()}, 1};
        r.roles["timestamp"] = RoleKeys{{timestamp_key.Id()}, 1};
        return SignDocument(MakeRootSigned(r), {&signer});
    }
    Envelope Timestamp(std::uint64_t version, std::map<std::string, std::uint64_t> latest,
                       std::int64_t expires_in = 86400) const {
        Json l = Json::object();
        for (const auto& [p, s] : latest) l[p] = s;
        return SignDocument(Json{{"type", "timestamp"},
                                 {"version", version},
                                 {"issued", now + static_cast<std::int64_t>(version)},
                                 {"expires", now + expires_in},
                                 {"latest", l},
                                 {"root_version", 1}},
                            {&timestamp_key});
    }
    Envelope Release(const std::string& product, std::uint64_t seq,
                     std::vector<std::string> hardware, const std::string& sha) const {
        ReleaseManifest m;
        m.vendor = "acme";
        m.product = product;
        m.hardware = std::move(hardware);
        m.version = "1.0." + std::to_string(seq);
        m.sequence = seq;
        m.image = ImageInfo{sha, 4, "fw.bin"};
        m.created = now;
        m.expires = now + 86400 * 30;
        return SignDocument(m.ToJson(), {&release_key});
    }
};

}  // namespace fwchain::test
