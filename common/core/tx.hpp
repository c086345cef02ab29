#pragma once
// Ledger transactions (DESIGN.md §5). Shared by the ledger, the vendor server (release, admit),
// the gateway (relaying reports) and the device agent (signing its update reports).
//
// Canonical form: {"body","nonce","recipient","sender","state","time","type","ver","verifier"}
// plus "sig" (hex Ed25519 by `sender` over Canonical(unsigned fields)). The tx id is the SHA-256
// hex of Canonical(the whole signed object, sig included).
#include <cstdint>
#include <string>

#include "common/core/crypto.hpp"
#include "common/core/json.hpp"

namespace fwchain {

namespace txtype {
inline constexpr const char* kGenesis = "genesis";
inline constexpr const char* kRelease = "release";
inline constexpr const char* kAdmit = "admit";
inline constexpr const char* kRevoke = "revoke";
inline constexpr const char* kUpdate = "update";
inline constexpr const char* kApprove = "approve";
inline constexpr const char* kStatus = "status";
inline constexpr const char* kRollout = "rollout";  // pause/resume/abort a release's rollout
}  // namespace txtype

// Upper bound on one serialised transaction.
inline constexpr std::size_t kMaxTxSize = 16 * 1024;

struct Tx {
    std::string type;
    std::string sender;     // public key hex of the signer
    std::string recipient;  // device id, product, subject id, ...
    std::string ver;        // version string (people) or ""
    std::string verifier;   // image sha256 hex or ""
    std::string state;      // update: installed|failed|rolled-back|up-to-date|downloading
    std::int64_t time = 0;
    std::uint64_t nonce = 0;  // per-sender counter for update/status (replay protection)
    Json body = Json::object();
    std::string sig;  // hex

    Json UnsignedJson() const;
    Json ToJson() const;
    // Canonical(ToJson()) (with_sig) or Canonical(UnsignedJson()), written field by field
    // without building a JSON object: the bytes that are hashed and signed.
    std::string CanonicalText(bool with_sig = true) const;
    std::string Id() const;                // SHA-256 hex of CanonicalText()
    void SignWith(const SigningKey& key);  // sets sender and sig
    bool SignatureValid() const;
};

// Parses and checks the shape (fields, types, hex) and the signature. Does not check
// authorisation (that needs chain state). `canonical`, if given, receives CanonicalText().
// `check_signature` false is for blocks below a checkpoint the vendor signed (assume-valid).
Expected<Tx> ParseTx(const Json& j, std::string* canonical = nullptr, bool check_signature = true);
// The same, moving the strings and the body out of `j` instead of copying them (a block being
// parsed that nobody reads afterwards). `j` is left valid but unspecified.
Expected<Tx> ParseTx(Json&& j, std::string* canonical = nullptr, bool check_signature = true);

}  // namespace fwchain
