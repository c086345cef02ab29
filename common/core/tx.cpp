#include "common/core/tx.hpp"

#include <string_view>
#include <type_traits>
#include <utility>

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

// Canonical(ToJson()) or Canonical(UnsignedJson()): keys in canonical (byte-wise sorted) order,
// each value serialised exactly as Canonical() would inside the object (tx_test checks the
// equality on awkward inputs). With the signature, `sig_at` (if given) receives where its
// member (`,"sig":"..."`) begins and `sig_end` where it ends, so that the unsigned text is the
// rest.
std::string BuildCanonical(const Tx& tx, bool with_sig, std::size_t* sig_at = nullptr,
                           std::size_t* sig_end = nullptr) {
    std::string out;
    out.reserve(256 + tx.sender.size() + tx.sig.size() + tx.recipient.size() + tx.ver.size() +
                tx.verifier.size());
    auto text = [&out](std::string_view key, const std::string& value) {
        out += key;
        AppendCanonicalString(out, value);
    };
    out += R"({"body":)";
    AppendCanonical(out, tx.body);
    out += R"(,"nonce":)";
    out += std::to_string(tx.nonce);
    text(R"(,"recipient":)", tx.recipient);
    text(R"(,"sender":)", tx.sender);
    if (with_sig) {
        if (sig_at != nullptr) *sig_at = out.size();
        text(R"(,"sig":)", tx.sig);
        if (sig_end != nullptr) *sig_end = out.size();
    }
    text(R"(,"state":)", tx.state);
    out += R"(,"time":)";
    out += std::to_string(tx.time);
    text(R"(,"type":)", tx.type);
    text(R"(,"ver":)", tx.ver);
    text(R"(,"verifier":)", tx.verifier);
    out += '}';
    return out;
}

}  // namespace

std::string Tx::CanonicalText(bool with_sig) const { return BuildCanonical(*this, with_sig); }

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

namespace {

// The ten fields in the order a JSON object (a std::map) holds them.
constexpr std::string_view kSortedFields[] = {"body",  "nonce", "recipient", "sender", "sig",
                                              "state", "time",  "type",      "ver",    "verifier"};

// Copies (from a const object) or moves (from one the caller gives up) a field's value.
template <typename J>
void Take(J& from, std::string& to) {
    if constexpr (std::is_const_v<J>) {
        to = from.template get_ref<const std::string&>();
    } else {
        to = std::move(from.template get_ref<std::string&>());
    }
}
template <typename J>
void Take(J& from, Json& to) {
    if constexpr (std::is_const_v<J>) {
        to = from;
    } else {
        to = std::move(from);
    }
}

// True when `j` holds exactly the ten fields with the types GetString, GetInt, GetUint and
// GetObject accept, checked in one pass over the object (a std::map, so in key order).
bool FieldsAreWellTyped(const Json& j) {
    if (!j.is_object() || j.size() != std::size(kSortedFields)) return false;
    std::size_t i = 0;
    for (const auto& [key, value] : j.get_ref<const Json::object_t&>()) {
        if (key != kSortedFields[i]) return false;
        switch (i++) {
            case 0:  // body: GetObject
                if (!value.is_object()) return false;
                break;
            case 1:  // nonce: GetUint
                if (!value.is_number_integer()) return false;
                if (!value.is_number_unsigned() && value.get<std::int64_t>() < 0) return false;
                break;
            case 6:  // time: GetInt
                if (!value.is_number_integer()) return false;
                if (value.is_number_unsigned() && value.get<std::uint64_t>() > INT64_MAX) {
                    return false;
                }
                break;
            default:  // GetString
                if (!value.is_string()) return false;
        }
    }
    return true;
}

// Takes the fields of an object FieldsAreWellTyped accepted.
template <typename J>
void TakeFields(J& j, Tx& tx) {
    using Object = std::conditional_t<std::is_const_v<J>, const Json::object_t, Json::object_t>;
    auto it = j.template get_ref<Object&>().begin();
    Take(it++->second, tx.body);
    tx.nonce = it++->second.template get<std::uint64_t>();
    Take(it++->second, tx.recipient);
    Take(it++->second, tx.sender);
    Take(it++->second, tx.sig);
    Take(it++->second, tx.state);
    tx.time = it++->second.template get<std::int64_t>();
    Take(it++->second, tx.type);
    Take(it++->second, tx.ver);
    Take(it->second, tx.verifier);
}

// The field-by-field path: the first missing or mistyped field, named.
Expected<void> ReadFields(const Json& j, Tx& tx) {
    if (!j.is_object()) return Fail(Errc::kInvalid, "malformed-tx", "transaction is not an object");
    if (j.size() != std::size(kSortedFields)) {
        return Fail(Errc::kInvalid, "malformed-tx",
                    "transaction must have exactly the fields "
                    "type, sender, recipient, ver, verifier, state, time, nonce, body, sig");
    }
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
    return {};
}

template <typename J>
Expected<Tx> ParseTxImpl(J& j, std::string* canonical, bool check_signature) {
    Tx tx;
    if (FieldsAreWellTyped(j)) {
        TakeFields(j, tx);
    } else {
        FW_TRY(ReadFields(j, tx));  // refused there, naming the field
    }
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
    // The signed text once (the body serialised once); the unsigned one, the signed message,
    // is the same bytes without the "sig" member, as BuildCanonical(tx, false) would write them.
    std::size_t sig_at = 0;
    std::size_t sig_end = 0;
    std::string text = BuildCanonical(tx, true, &sig_at, &sig_end);
    if (text.size() > kMaxTxSize) {
        return Fail(Errc::kTooLarge, "tx-too-large",
                    "transaction exceeds " + std::to_string(kMaxTxSize) + " bytes");
    }
    if (check_signature) {
        std::string message;
        message.reserve(text.size() - (sig_end - sig_at));
        message.append(text, 0, sig_at);
        message.append(text, sig_end, std::string::npos);
        PublicKey pub{};
        Signature sig{};
        if (!FromHexTo(tx.sender, pub) || !FromHexTo(tx.sig, sig) || !Verify(pub, message, sig)) {
            return Fail(Errc::kVerify, "bad-signature", "transaction signature does not verify");
        }
    }
    if (canonical != nullptr) *canonical = std::move(text);
    return tx;
}

}  // namespace

Expected<Tx> ParseTx(const Json& j, std::string* canonical, bool check_signature) {
    return ParseTxImpl(j, canonical, check_signature);
}

Expected<Tx> ParseTx(Json&& j, std::string* canonical, bool check_signature) {
    return ParseTxImpl(j, canonical, check_signature);
}

}  // namespace fwchain
