#include "common/core/metadata.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace fwchain {

namespace {

Error Malformed(const std::string& doc, const Error& e) {
    return MakeError(Errc::kInvalid, "malformed", doc + ": " + e.message);
}

Status CheckType(const Json& s, const std::string& type) {
    auto t = GetString(s, "type");
    if (!t || *t != type) {
        return Fail(Errc::kInvalid, "wrong-type", "document is not of type \"" + type + "\"");
    }
    return {};
}

Status CheckExpiry(const std::string& doc, std::int64_t expires, std::int64_t now) {
    if (expires <= now) {
        return Fail(
            Errc::kVerify, "expired",
            doc + " expired at " + std::to_string(expires) + " (now " + std::to_string(now) + ")");
    }
    return {};
}

Status VerifyRole(const Root& root, const Envelope& env, const std::string& role) {
    const RoleKeys* r = root.Role(role);
    if (!r) return Fail(Errc::kVerify, "unknown-role", "root has no " + role + " role");
    return VerifyThreshold(env, root.keys, r->keyids, r->threshold, role);
}

// A canonical decimal (no sign, no leading zero) that fits 64 bits.
std::optional<std::uint64_t> ParseDecimal(const std::string& text) {
    if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return {};
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return {};
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return {};
        v = v * 10 + d;
    }
    return v;
}

}  // namespace

const RoleKeys* Root::Role(const std::string& role) const {
    auto it = roles.find(role);
    return it == roles.end() ? nullptr : &it->second;
}

bool Root::HasRoleKey(const std::string& role, const PublicKey& key) const {
    const RoleKeys* r = Role(role);
    if (!r) return false;
    std::string id = KeyId(key);
    if (std::find(r->keyids.begin(), r->keyids.end(), id) == r->keyids.end()) return false;
    auto k = keys.find(id);
    return k != keys.end() && k->second == key;
}

Expected<Root> ParseRoot(const Envelope& env) {
    const Json& s = env.signed_doc;
    FW_TRY(CheckType(s, "root"));
    Root root;
    root.envelope = env;
    auto vendor = GetString(s, "vendor");
    auto version = GetUint(s, "version");
    auto issued = GetInt(s, "issued");
    auto expires = GetInt(s, "expires");
    if (!vendor) return Fail(Malformed("root", vendor.error()));
    if (!version) return Fail(Malformed("root", version.error()));
    if (!issued) return Fail(Malformed("root", issued.error()));
    if (!expires) return Fail(Malformed("root", expires.error()));
    root.vendor = *vendor;
    root.version = *version;
    root.issued = *issued;
    root.expires = *expires;
    auto keys = GetObject(s, "keys");
    if (!keys) return Fail(Malformed("root", keys.error()));
    for (const auto& [keyid, k] : (*keys)->items()) {
        auto pub_hex = GetString(k, "public");
        if (!pub_hex) return Fail(Malformed("root key " + keyid, pub_hex.error()));
        auto pub = PublicKeyFromHex(*pub_hex);
        if (!pub || KeyId(*pub) != keyid) {
            return Fail(Errc::kInvalid, "malformed",
                        "root key " + keyid + " does not match its id");
        }
        root.keys[keyid] = *pub;
    }
    auto roles = GetObject(s, "roles");
    if (!roles) return Fail(Malformed("root", roles.error()));
    for (const auto& [name, r] : (*roles)->items()) {
        RoleKeys rk;
        auto ids = GetArray(r, "keyids");
        auto threshold = GetUint(r, "threshold");
        if (!ids || !threshold || *threshold == 0) {
            return Fail(Errc::kInvalid, "malformed", "root role " + name + " is malformed");
        }
        for (const auto& id : **ids) {
            if (!id.is_string() || !root.keys.count(id.get<std::string>())) {
                return Fail(Errc::kInvalid, "malformed",
                            "root role " + name + " names a key the root does not list");
            }
            rk.keyids.push_back(id.get<std::string>());
        }
        rk.threshold = *threshold;
        root.roles[name] = rk;
    }
    for (const char* required : {"root", "release", "timestamp"}) {
        if (!root.roles.count(required)) {
            return Fail(Errc::kInvalid, "malformed",
                        std::string("root lacks the ") + required + " role");
        }
    }
    return root;
}

Json MakeRootSigned(const Root& root) {
    Json keys = Json::object();
    for (const auto& [id, pub] : root.keys) {
        keys[id] = {{"keytype", "ed25519"}, {"public", ToHex(pub)}};
    }
    Json roles = Json::object();
    for (const auto& [name, rk] : root.roles) {
        roles[name] = {{"keyids", rk.keyids}, {"threshold", rk.threshold}};
    }
    return Json{{"type", "root"},        {"vendor", root.vendor},   {"version", root.version},
                {"issued", root.issued}, {"expires", root.expires}, {"keys", keys},
                {"roles", roles}};
}

Expected<Root> VerifyInitialRoot(const Envelope& env, std::int64_t now) {
    FW_ASSIGN(Root root, ParseRoot(env));
    FW_TRY(VerifyRole(root, env, "root"));
    FW_TRY(CheckExpiry("root v" + std::to_string(root.version), root.expires, now));
    return root;
}

Expected<Root> VerifyRootChain(const Root& trusted, const std::vector<Envelope>& newer,
                               std::int64_t now) {
    Root current = trusted;
    for (const Envelope& env : newer) {
        FW_ASSIGN(Root next, ParseRoot(env));
        if (next.version <= current.version) continue;  // already trusted; harmless
        if (next.version != current.version + 1) {
            return Fail(Errc::kVerify, "root-gap",
                        "root v" + std::to_string(next.version) + " does not follow trusted v" +
                            std::to_string(current.version));
        }
        if (next.vendor != current.vendor) {
            return Fail(Errc::kVerify, "wrong-vendor",
                        "root v" + std::to_string(next.version) + " names another vendor");
        }
        // Signed by a threshold of the old root keys and of the new ones (TUF 5.3.4).
        auto by_old = VerifyRole(current, env, "root");
        if (!by_old) return Fail(Context(by_old.error(), "root v" + std::to_string(next.version)));
        auto by_new = VerifyRole(next, env, "root");
        if (!by_new) return Fail(Context(by_new.error(), "root v" + std::to_string(next.version)));
        current = std::move(next);
    }
    FW_TRY(CheckExpiry("root v" + std::to_string(current.version), current.expires, now));
    return current;
}

Expected<Timestamp> ParseTimestamp(const Envelope& env) {
    const Json& s = env.signed_doc;
    FW_TRY(CheckType(s, "timestamp"));
    Timestamp ts;
    ts.envelope = env;
    auto version = GetUint(s, "version");
    auto issued = GetInt(s, "issued");
    auto expires = GetInt(s, "expires");
    auto root_version = GetUint(s, "root_version");
    auto latest = GetObject(s, "latest");
    if (!version || !issued || !expires || !root_version || !latest) {
        return Fail(Errc::kInvalid, "malformed", "timestamp lacks a required field");
    }
    ts.version = *version;
    ts.issued = *issued;
    ts.expires = *expires;
    ts.root_version = *root_version;
    for (const auto& [product, seq] : (*latest)->items()) {
        if (!seq.is_number_unsigned()) {
            return Fail(Errc::kInvalid, "malformed",
                        "timestamp latest[" + product + "] is not a sequence");
        }
        ts.latest[product] = seq.get<std::uint64_t>();
    }
    // Optional, so the parse of a timestamp from an older vendor still works; VerifyRelease then
    // finds no manifest hash and refuses every manifest.
    if (s.contains("manifests")) {
        FW_ASSIGN(const Json* manifests, GetObject(s, "manifests"));
        for (const auto& [product, by_seq] : manifests->items()) {
            if (!by_seq.is_object()) {
                return Fail(Errc::kInvalid, "malformed",
                            "timestamp manifests[" + product + "] is not an object");
            }
            for (const auto& [seq_text, entry] : by_seq.items()) {
                auto seq = ParseDecimal(seq_text);
                std::optional<std::string> sha;
                if (entry.is_object()) {
                    if (auto v = GetString(entry, "sha256")) sha = *v;
                }
                if (!seq || !sha || !IsHex(*sha, 32)) {
                    return Fail(Errc::kInvalid, "malformed",
                                "timestamp manifests[" + product + "] has a bad entry");
                }
                ManifestEntry e{*sha, std::nullopt};
                if (entry.contains("block")) {
                    auto block = LedgerPoint::FromJson(entry["block"]);
                    if (!block) return Fail(Malformed("timestamp", block.error()));
                    e.block = *block;
                }
                ts.manifests[product][*seq] = std::move(e);
            }
        }
    }
    if (s.contains("checkpoint")) {
        auto cp = LedgerPoint::FromJson(s["checkpoint"]);
        if (!cp) return Fail(Malformed("timestamp", cp.error()));
        ts.checkpoint = *cp;
    }
    return ts;
}

Expected<LedgerPoint> LedgerPoint::FromJson(const Json& j) {
    if (!j.is_object()) return Fail(Errc::kInvalid, "malformed", "ledger point is not an object");
    LedgerPoint p;
    FW_ASSIGN(p.height, GetUint(j, "height"));
    FW_ASSIGN(p.hash, GetString(j, "hash"));
    if (!IsHex(p.hash, 32)) {
        return Fail(Errc::kInvalid, "malformed", "ledger block hash is not 32 bytes of hex");
    }
    return p;
}

const ManifestEntry* Timestamp::Manifest(const std::string& product, std::uint64_t sequence) const {
    auto p = manifests.find(product);
    if (p == manifests.end()) return nullptr;
    auto e = p->second.find(sequence);
    return e == p->second.end() ? nullptr : &e->second;
}

Json MakeTimestampSigned(std::uint64_t version, std::int64_t issued, std::int64_t expires,
                         const std::map<std::string, std::uint64_t>& latest,
                         const ManifestMap& manifests, const std::optional<LedgerPoint>& checkpoint,
                         std::uint64_t root_version) {
    Json latest_json = Json::object();
    for (const auto& [product, seq] : latest) latest_json[product] = seq;
    Json manifests_json = Json::object();
    for (const auto& [product, by_seq] : manifests) {
        Json p = Json::object();
        for (const auto& [seq, e] : by_seq) {
            Json entry{{"sha256", e.sha256}};
            if (e.block) entry["block"] = e.block->ToJson();
            p[std::to_string(seq)] = std::move(entry);
        }
        manifests_json[product] = std::move(p);
    }
    Json doc = {
        {"type", "timestamp"},         {"version", version},    {"issued", issued},
        {"expires", expires},          {"latest", latest_json}, {"manifests", manifests_json},
        {"root_version", root_version}};
    if (checkpoint) doc["checkpoint"] = checkpoint->ToJson();
    return doc;
}

Expected<Timestamp> VerifyTimestamp(const Root& root, const Envelope& env, std::int64_t now,
                                    const AcceptedMark& last) {
    FW_ASSIGN(Timestamp ts, ParseTimestamp(env));
    FW_TRY(VerifyRole(root, env, "timestamp"));
    if (ts.root_version != root.version) {
        return Fail(Errc::kVerify, "root-mismatch",
                    "timestamp names root v" + std::to_string(ts.root_version) +
                        " but the trusted root is v" + std::to_string(root.version));
    }
    if (ts.version < last.version || ts.issued < last.issued) {
        return Fail(Errc::kVerify, "rollback",
                    "timestamp v" + std::to_string(ts.version) + " is older than the accepted v" +
                        std::to_string(last.version));
    }
    FW_TRY(CheckExpiry("timestamp", ts.expires, now));
    return ts;
}

Expected<Release> ParseRelease(const Envelope& env) {
    FW_ASSIGN(ReleaseManifest m, ReleaseManifest::Parse(env.signed_doc));
    Release r;
    static_cast<ReleaseManifest&>(r) = std::move(m);
    r.envelope = env;
    return r;
}

Expected<Release> VerifyReleaseForRelay(const Root& root, const Envelope& env, std::int64_t now,
                                        const Timestamp& ts) {
    FW_ASSIGN(Release r, ParseRelease(env));
    FW_TRY(VerifyRole(root, env, "release"));
    if (r.vendor != root.vendor) {
        return Fail(Errc::kVerify, "wrong-vendor",
                    "release is for vendor \"" + r.vendor + "\", expected \"" + root.vendor + "\"");
    }
    FW_TRY(CheckExpiry("release " + r.version, r.expires, now));
    auto latest = ts.latest.find(r.product);
    if (latest == ts.latest.end() || r.sequence > latest->second) {
        return Fail(
            Errc::kVerify, "mix-and-match",
            "release sequence " + std::to_string(r.sequence) + " is not covered by the timestamp");
    }
    return r;
}

Expected<Release> VerifyRelease(const Root& root, const Envelope& env, std::int64_t now,
                                const DeviceMatch& device, const Timestamp& ts) {
    FW_ASSIGN(Release r, VerifyReleaseForRelay(root, env, now, ts));
    if (r.vendor != device.vendor) {
        return Fail(Errc::kVerify, "wrong-vendor", "release is for vendor \"" + r.vendor + "\"");
    }
    if (r.product != device.product) {
        return Fail(Errc::kVerify, "wrong-product",
                    "release is for product \"" + r.product + "\", this device is \"" +
                        device.product + "\"");
    }
    if (std::find(r.hardware.begin(), r.hardware.end(), device.hardware) == r.hardware.end()) {
        return Fail(Errc::kVerify, "wrong-hardware",
                    "release does not list hardware \"" + device.hardware + "\"");
    }
    if (r.sequence <= device.installed_sequence) {
        return Fail(Errc::kVerify, "rollback",
                    "release sequence " + std::to_string(r.sequence) +
                        " is not above the installed " + std::to_string(device.installed_sequence));
    }
    // TUF's snapshot rule: the online timestamp key names the exact manifest, so a stolen
    // release key cannot sign a manifest of its own that a device installs.
    const ManifestEntry* named = ts.Manifest(r.product, r.sequence);
    if (named == nullptr || named->sha256 != r.ManifestHash()) {
        return Fail(Errc::kVerify, "manifest-not-in-timestamp",
                    named == nullptr
                        ? "the timestamp names no manifest for " + r.product + " sequence " +
                              std::to_string(r.sequence)
                        : "the manifest of " + r.product + " sequence " +
                              std::to_string(r.sequence) + " is not the one the timestamp names");
    }
    if (device.max_image_size != 0 && r.image.size > device.max_image_size) {
        return Fail(Errc::kVerify, "image-too-large",
                    "image of " + std::to_string(r.image.size) + " bytes exceeds the limit of " +
                        std::to_string(device.max_image_size));
    }
    return r;
}

}  // namespace fwchain
