#pragma once
// TUF-style signed envelope: {"signed": {...}, "signatures": [{"keyid": ..., "sig": ...}]}.
// Signatures cover Canonical(signed).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/json.hpp"

namespace fwchain {

struct Envelope {
    Json signed_doc;                                              // the "signed" object
    std::vector<std::pair<std::string, std::string>> signatures;  // (keyid, sig hex)

    Json ToJson() const;
    std::string Serialize() const { return Canonical(ToJson()); }
    // SHA-256 hex of Canonical(signed): names the document independently of its signatures.
    std::string SignedHash() const { return Sha256Hex(Canonical(signed_doc)); }
};

Expected<Envelope> ParseEnvelope(const Json& j);
Expected<Envelope> ParseEnvelope(std::string_view text);
inline Expected<Envelope> ParseEnvelope(const std::string& text) {
    return ParseEnvelope(std::string_view(text));
}

// Signs (or adds signatures to) an envelope.
void AddSignature(Envelope& env, const SigningKey& key);
Envelope SignDocument(Json signed_doc, const std::vector<const SigningKey*>& keys);

// Counts distinct valid signatures from `trusted` (keyid -> public key) restricted to
// `allowed_ids`; fails with reason "bad-signature" when fewer than `threshold` verify.
Status VerifyThreshold(const Envelope& env, const std::map<std::string, PublicKey>& trusted,
                       const std::vector<std::string>& allowed_ids, std::size_t threshold,
                       const std::string& role);

}  // namespace fwchain
