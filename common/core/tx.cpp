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

namespace {

// A JSON string exactly as Canonical() writes it. ASCII is escaped here (as nlohmann's
// serializer does: short escapes for \b \t \n \f \r, \u00xx for other control bytes, DEL
// kept); anything else goes through Canonical() so that its UTF-8 handling applies.
void AppendString(std::string& out, const std::string& s) {
    for (unsigned char c : s) {
        if (c >= 0x80) {
            out += Canonical(Json(s));
            return;
        }
    }
    static const char* kHex = "0123456789abcdef";
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xF];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

}  // namespace

std::string Tx::CanonicalText(bool with_sig) const {
    // Keys in canonical (byte-wise sorted) order; each value serialised exactly as Canonical()
    // would inside the object. tx_test checks the equality on awkward inputs.
    std::string out;
    out.reserve(384 + sig.size());
    auto text = [&out](const char* key, const std::string& value) {
        out += key;
        AppendString(out, value);
    };
    out += R"({"body":)";
    out += Canonical(body);
    out += R"(,"nonce":)";
    out += std::to_string(nonce);
    text(R"(,"recipient":)", recipient);
    text(R"(,"sender":)", sender);
    if (with_sig) text(R"(,"sig":)", sig);
    text(R"(,"state":)", state);
    out += R"(,"time":)";
    out += std::to_string(time);
    text(R"(,"type":)", type);
    text(R"(,"ver":)", ver);
    text(R"(,"verifier":)", verifier);
    out += '}';
    return out;
}

std::string Tx::Id() const { return Sha256Hex(CanonicalText()); }

void Tx::SignWith(const SigningKey& key) {
    sender = key.PublicHex();
    sig = ToHex(key.Sign(CanonicalText(false)));
}

bool Tx::SignatureValid() const {
    auto pub = PublicKeyFromHex(sender);
    auto s = SignatureFromHex(sig);
    return pub && s && Verify(*pub, CanonicalText(false), *s);
}

Expected<Tx> ParseTx(const Json& j, std::string* canonical, bool check_signature) {
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
    std::string text = tx.CanonicalText();
    if (text.size() > kMaxTxSize) {
        return Fail(Errc::kTooLarge, "tx-too-large",
                    "transaction exceeds " + std::to_string(kMaxTxSize) + " bytes");
    }
    if (check_signature && !tx.SignatureValid()) {
        return Fail(Errc::kVerify, "bad-signature", "transaction signature does not verify");
    }
    if (canonical != nullptr) *canonical = std::move(text);
    return tx;
}

}  // namespace fwchain
