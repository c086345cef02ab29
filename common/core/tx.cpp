#include "common/core/tx.hpp"

namespace fwchain {

Json Tx::UnsignedJson() const {
    return Json{{"type", type}, {"sender", sender},     {"recipient", recipient},
                {"ver", ver},   {"verifier", verifier}, {"state", state},
                {"time", time}, {"nonce", nonce},       {"body", body}};
}

Json Tx::ToJson() const {
    Json j = UnsignedJson();
    j["sig"] = sig;
    return j;
}

std::string Tx::Id() const { return Sha256Hex(Canonical(ToJson())); }

void Tx::SignWith(const SigningKey& key) {
    sender = key.PublicHex();
    sig = ToHex(key.Sign(Canonical(UnsignedJson())));
}

bool Tx::SignatureValid() const {
    auto pub = PublicKeyFromHex(sender);
    auto s = SignatureFromHex(sig);
    return pub && s && Verify(*pub, Canonical(UnsignedJson()), *s);
}

Expected<Tx> ParseTx(const Json& j) {
    if (!j.is_object()) return Fail(Errc::kInvalid, "malformed-tx", "transaction is not an object");
    static const char* kFields[] = {"type",  "sender", "recipient", "ver",  "verifier",
                                    "state", "time",   "nonce",     "body", "sig"};
    if (j.size() != std::size(kFields)) {
        return Fail(Errc::kInvalid, "malformed-tx",
                    "transaction must have exactly the fields "
                    "type, sender, recipient, ver, verifier, state, time, nonce, body, sig");
    }
    Tx tx;
    auto fail = [](const Error& e) { return Fail(Errc::kInvalid, "malformed-tx", e.message); };
    auto type = GetString(j, "type");
    if (!type) return fail(type.error());
    auto sender = GetString(j, "sender");
    if (!sender) return fail(sender.error());
    auto recipient = GetString(j, "recipient");
    if (!recipient) return fail(recipient.error());
    auto ver = GetString(j, "ver");
    if (!ver) return fail(ver.error());
    auto verifier = GetString(j, "verifier");
    if (!verifier) return fail(verifier.error());
    auto state = GetString(j, "state");
    if (!state) return fail(state.error());
    auto time = GetInt(j, "time");
    if (!time) return fail(time.error());
    auto nonce = GetUint(j, "nonce");
    if (!nonce) return fail(nonce.error());
    auto sig = GetString(j, "sig");
    if (!sig) return fail(sig.error());
    // Not j["body"]: operator[] on a const object with a missing key is undefined behaviour,
    // and an object with 10 fields may still lack "body" (e.g. "bodx" instead).
    auto body = GetObject(j, "body");
    if (!body) return fail(body.error());
    tx.type = *type;
    tx.sender = *sender;
    tx.recipient = *recipient;
    tx.ver = *ver;
    tx.verifier = *verifier;
    tx.state = *state;
    tx.time = *time;
    tx.nonce = *nonce;
    tx.body = **body;
    tx.sig = *sig;
    if (!IsHex(tx.sender, 32)) {
        return Fail(Errc::kInvalid, "malformed-tx", "sender must be a 32-byte public key in hex");
    }
    if (!IsHex(tx.sig, 64)) {
        return Fail(Errc::kInvalid, "malformed-tx", "sig must be a 64-byte signature in hex");
    }
    if (!tx.verifier.empty() && !IsHex(tx.verifier, 32)) {
        return Fail(Errc::kInvalid, "malformed-tx", "verifier must be empty or a SHA-256 in hex");
    }
    if (tx.recipient.size() > 256 || tx.ver.size() > 64 || tx.state.size() > 32 ||
        tx.type.size() > 32) {
        return Fail(Errc::kInvalid, "malformed-tx", "a transaction field is too long");
    }
    if (Canonical(tx.ToJson()).size() > kMaxTxSize) {
        return Fail(Errc::kTooLarge, "tx-too-large",
                    "transaction exceeds " + std::to_string(kMaxTxSize) + " bytes");
    }
    if (!tx.SignatureValid()) {
        return Fail(Errc::kVerify, "bad-signature", "transaction signature does not verify");
    }
    return tx;
}

}  // namespace fwchain
