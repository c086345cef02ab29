#include "common/core/envelope.hpp"

#include <set>

namespace fwchain {

Json Envelope::ToJson() const {
    Json sigs = Json::array();
    for (const auto& [keyid, sig] : signatures) sigs.push_back({{"keyid", keyid}, {"sig", sig}});
    return Json{{"signed", signed_doc}, {"signatures", sigs}};
}

Expected<Envelope> ParseEnvelope(const Json& j) {
    if (!j.is_object())
        return Fail(Errc::kInvalid, "malformed", "signed document is not an object");
    FW_ASSIGN(const Json* signed_doc, GetObject(j, "signed"));
    FW_ASSIGN(const Json* sigs, GetArray(j, "signatures"));
    if (sigs->size() > 64) return Fail(Errc::kInvalid, "malformed", "too many signatures");
    Envelope env;
    env.signed_doc = *signed_doc;
    for (const auto& s : *sigs) {
        auto keyid = GetString(s, "keyid");
        auto sig = GetString(s, "sig");
        if (!keyid || !sig || !IsHex(*keyid, 32) || !IsHex(*sig, 64)) {
            return Fail(Errc::kInvalid, "malformed", "a signature entry is malformed");
        }
        env.signatures.emplace_back(*keyid, *sig);
    }
    return env;
}

Expected<Envelope> ParseEnvelope(std::string_view text) {
    FW_ASSIGN(Json j, ParseJson(text));
    return ParseEnvelope(j);
}

void AddSignature(Envelope& env, const SigningKey& key) {
    Signature sig = key.Sign(Canonical(env.signed_doc));
    env.signatures.emplace_back(key.Id(), ToHex(sig));
}

Envelope SignDocument(Json signed_doc, const std::vector<const SigningKey*>& keys) {
    Envelope env;
    env.signed_doc = std::move(signed_doc);
    for (const SigningKey* k : keys) AddSignature(env, *k);
    return env;
}

Status VerifyThreshold(const Envelope& env, const std::map<std::string, PublicKey>& trusted,
                       const std::vector<std::string>& allowed_ids, std::size_t threshold,
                       const std::string& role) {
    if (threshold == 0) {
        return Fail(Errc::kVerify, "threshold", "role " + role + " has a zero threshold");
    }
    const std::string message = Canonical(env.signed_doc);
    std::set<std::string> allowed(allowed_ids.begin(), allowed_ids.end());
    std::set<std::string> valid;
    for (const auto& [keyid, sig_hex] : env.signatures) {
        if (!allowed.count(keyid) || valid.count(keyid)) continue;
        auto key = trusted.find(keyid);
        if (key == trusted.end()) continue;
        auto sig = SignatureFromHex(sig_hex);
        if (sig && Verify(key->second, message, *sig)) valid.insert(keyid);
    }
    if (valid.size() < threshold) {
        return Fail(Errc::kVerify, "bad-signature",
                    role + " document has " + std::to_string(valid.size()) +
                        " valid signature(s) from " + role + " keys, " + std::to_string(threshold) +
                        " required");
    }
    return {};
}

}  // namespace fwchain
