#include "common/core/release.hpp"

#include "common/core/bytes.hpp"
#include "common/core/names.hpp"

namespace fwchain {

namespace {

Unexpected Malformed(const std::string& what) {
    return Fail(Errc::kInvalid, "malformed", "release manifest: " + what);
}

Unexpected Malformed(const Error& e) { return Malformed(e.message); }

Expected<std::string> NonEmptyString(const Json& j, const char* key, std::size_t max_size) {
    FW_ASSIGN(std::string s, GetString(j, key));
    if (s.empty() || s.size() > max_size) {
        return Fail(Errc::kInvalid, "bad-field",
                    std::string("field \"") + key + "\" must be 1.." + std::to_string(max_size) +
                        " characters");
    }
    return s;
}

Expected<ImageInfo> ParseImage(const Json& j) {
    ImageInfo image;
    FW_ASSIGN(image.sha256, GetString(j, "sha256"));
    if (!IsHex(image.sha256, 32)) {
        return Fail(Errc::kInvalid, "bad-field", "image sha256 is not 32 bytes of lowercase hex");
    }
    FW_ASSIGN(image.size, GetUint(j, "size"));
    FW_ASSIGN(image.name, GetString(j, "name"));
    return image;
}

Expected<ReleaseSource> ParseSource(const Json& j) {
    ReleaseSource s;
    FW_ASSIGN(s.repo, GetString(j, "repo"));
    FW_ASSIGN(s.tag, GetString(j, "tag"));
    FW_ASSIGN(s.commit, GetString(j, "commit"));
    FW_ASSIGN(s.tagger, GetString(j, "tagger"));
    FW_ASSIGN(s.notes, GetString(j, "notes"));
    return s;
}

Expected<TorrentInfo> ParseTorrent(const Json& j) {
    TorrentInfo t;
    FW_ASSIGN(t.infohash_v1, GetString(j, "infohash_v1"));
    FW_ASSIGN(t.infohash_v2, GetString(j, "infohash_v2"));
    if (!IsHex(t.infohash_v1, 20)) {
        return Fail(Errc::kInvalid, "bad-field", "torrent infohash_v1 is not 40 lowercase hex");
    }
    if (!IsHex(t.infohash_v2, 32)) {
        return Fail(Errc::kInvalid, "bad-field", "torrent infohash_v2 is not 64 lowercase hex");
    }
    return t;
}

// `parse` applied to the object `key` of `s`; errors name the field.
template <typename T, typename F>
Expected<T> ParseObject(const Json& s, const char* key, F parse) {
    auto obj = GetObject(s, key);
    if (!obj) return Malformed(obj.error());
    auto v = parse(**obj);
    if (!v) return Malformed(std::string(key) + ": " + v.error().message);
    return v;
}

}  // namespace

Json ReleaseManifest::ToJson() const {
    Json j{{"type", "release"},
           {"vendor", vendor},
           {"product", product},
           {"hardware", hardware},
           {"version", version},
           {"sequence", sequence},
           {"image", {{"sha256", image.sha256}, {"size", image.size}, {"name", image.name}}},
           {"source",
            {{"repo", source.repo},
             {"tag", source.tag},
             {"commit", source.commit},
             {"tagger", source.tagger},
             {"notes", source.notes}}},
           {"created", created},
           {"expires", expires}};
    if (torrent) {
        j["torrent"] = {{"infohash_v1", torrent->infohash_v1},
                        {"infohash_v2", torrent->infohash_v2}};
    }
    if (rollout) j["rollout"] = rollout->ToJson();
    if (min_approvals != 0) j["min_approvals"] = min_approvals;
    return j;
}

Expected<ReleaseManifest> ReleaseManifest::Parse(const Json& s) {
    auto type = GetString(s, "type");
    if (!type || *type != "release") {
        return Fail(Errc::kInvalid, "wrong-type", "document is not of type \"release\"");
    }
    ReleaseManifest m;
    auto vendor = NonEmptyString(s, "vendor", 256);
    if (!vendor) return Malformed(vendor.error());
    m.vendor = std::move(*vendor);
    auto product = GetString(s, "product");
    if (!product) return Malformed(product.error());
    if (!ValidProductName(*product)) {  // it becomes a file name at gateways and vendors
        return Fail(Errc::kInvalid, "bad-product",
                    "release manifest: product \"" + *product + "\" is not " +
                        std::string(kProductNameRule));
    }
    m.product = std::move(*product);
    auto hardware = GetArray(s, "hardware");
    if (!hardware) return Malformed(hardware.error());
    if ((*hardware)->empty()) return Malformed("hardware lists nothing");
    for (const auto& h : **hardware) {
        if (!h.is_string() || h.get<std::string>().empty()) {
            return Malformed("a hardware entry is not a non-empty string");
        }
        m.hardware.push_back(h.get<std::string>());
    }
    auto version = NonEmptyString(s, "version", kMaxReleaseVersionLength);
    if (!version) return Malformed(version.error());
    m.version = std::move(*version);
    auto sequence = GetUint(s, "sequence");
    if (!sequence) return Malformed(sequence.error());
    if (*sequence == 0) return Malformed("sequence must be >= 1");
    m.sequence = *sequence;
    FW_ASSIGN(m.image, ParseObject<ImageInfo>(s, "image", ParseImage));
    FW_ASSIGN(m.source, ParseObject<ReleaseSource>(s, "source", ParseSource));
    auto created = GetInt(s, "created");
    if (!created) return Malformed(created.error());
    m.created = *created;
    auto expires = GetInt(s, "expires");
    if (!expires) return Malformed(expires.error());
    m.expires = *expires;
    if (s.contains("torrent")) {
        FW_ASSIGN(m.torrent, ParseObject<TorrentInfo>(s, "torrent", ParseTorrent));
    }
    if (s.contains("rollout")) {
        FW_ASSIGN(m.rollout, ParseObject<Rollout>(s, "rollout", Rollout::Parse));
    }
    if (s.contains("min_approvals")) {
        auto n = GetUint(s, "min_approvals");
        if (!n) return Malformed(n.error());
        if (*n < 1 || *n > kMaxMinApprovals) {
            return Malformed("min_approvals must be in 1.." + std::to_string(kMaxMinApprovals));
        }
        m.min_approvals = static_cast<std::uint32_t>(*n);
    }
    return m;
}

}  // namespace fwchain
