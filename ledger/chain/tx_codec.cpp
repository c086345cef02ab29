#include "ledger/chain/tx_codec.hpp"

#include <vector>

#include "common/core/bytes.hpp"
#include "common/core/tx_bodies.hpp"

namespace fwchain::ledger {

namespace {

// Body keys the tx bodies use (common/core/tx_bodies.cpp, rollout.cpp, the genesis body),
// stored as one character 0x01..0x1f. Append only: a stored code never changes its meaning.
constexpr const char* kKeyCodes[] = {
    "gateway",
    "previous_sequence",
    "product",
    "reason",
    "sequence",
    "rejected",
    "version",
    "sha256",
    "manifest_sha256",
    "hardware",
    "rollout",
    "min_approvals",
    "key",
    "role",
    "root",
    "root_sha256",
    "miners",
    "params",
    "percent",
    "start",
    "stages",
    "max_failure_rate",
    "min_reports",
    "initial_bits",
    "target_interval",
    "retarget_window",
    "finality_depth",
    "confirmations",
};
constexpr std::size_t kKeyCodeCount = sizeof(kKeyCodes) / sizeof(kKeyCodes[0]);
static_assert(kKeyCodeCount <= 31);

// A body key as stored: its code, or itself, with a 0x00 in front when it begins with a byte
// below 0x20 (so a real key never reads as a code).
std::string PackKey(const std::string& key) {
    for (std::size_t i = 0; i < kKeyCodeCount; ++i) {
        if (key == kKeyCodes[i]) return std::string(1, static_cast<char>(i + 1));
    }
    if (!key.empty() && static_cast<unsigned char>(key[0]) < 0x20) return '\0' + key;
    return key;
}

bool UnpackKey(const std::string& stored, std::string* key) {
    if (stored.empty() || static_cast<unsigned char>(stored[0]) >= 0x20) {
        *key = stored;
        return true;
    }
    if (stored[0] == '\0') {
        *key = stored.substr(1);
        return true;
    }
    const auto code = static_cast<std::size_t>(static_cast<unsigned char>(stored[0]));
    if (stored.size() != 1 || code > kKeyCodeCount) return false;
    *key = kKeyCodes[code - 1];
    return true;
}

Json Str(const std::string& s) {
    if (!IsLowerHex(s)) return Json(s);
    auto bytes = FromHex(s);
    return Json::binary(std::vector<std::uint8_t>(bytes->begin(), bytes->end()));
}

// Hex strings to binary, recursively; false when the value holds a float (or anything else the
// decoding would not give back exactly).
bool Compact(const Json& in, Json* out) {
    switch (in.type()) {
        case Json::value_t::object: {
            *out = Json::object();
            for (const auto& [k, v] : in.items()) {
                Json c;
                if (!Compact(v, &c)) return false;
                (*out)[PackKey(k)] = std::move(c);
            }
            return true;
        }
        case Json::value_t::array: {
            *out = Json::array();
            for (const auto& v : in) {
                Json c;
                if (!Compact(v, &c)) return false;
                out->push_back(std::move(c));
            }
            return true;
        }
        case Json::value_t::string:
            *out = Str(in.get_ref<const std::string&>());
            return true;
        case Json::value_t::null:
        case Json::value_t::boolean:
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
            *out = in;
            return true;
        default:
            return false;
    }
}

bool Expand(Json* j) {
    if (j->is_binary()) {
        const auto& b = j->get_binary();
        *j = Json(ToHex(b.data(), b.size()));
    } else if (j->is_object()) {
        Json out = Json::object();
        for (auto& [k, v] : j->items()) {
            std::string key;
            if (!UnpackKey(k, &key) || !Expand(&v)) return false;
            out[key] = std::move(v);
        }
        *j = std::move(out);
    } else if (j->is_array()) {
        for (auto& v : *j) {
            if (!Expand(&v)) return false;
        }
    }
    return true;
}

Expected<Json> Decode(std::string_view data) {
    try {
        Json j = Json::from_msgpack(data.begin(), data.end());
        if (!j.is_array() || j.size() != 5) throw std::runtime_error("not a 5-array");
        return j;
    } catch (const std::exception& e) {
        return Fail(Errc::kDatabase, "corrupt-tx", std::string("stored tx blob: ") + e.what());
    }
}

Expected<std::string> TextOf(Json j) {
    if (!Expand(&j) || !j.is_string())
        return Fail(Errc::kDatabase, "corrupt-tx", "stored tx field type");
    return j.get<std::string>();
}

Expected<Json> BodyOf(Json j) {
    if (j.is_string()) {
        // Stored as canonical text (see the header); parsed as written, floats included.
        try {
            return Json::parse(j.get_ref<const std::string&>());
        } catch (const std::exception& e) {
            return Fail(Errc::kDatabase, "corrupt-tx", std::string("stored tx body: ") + e.what());
        }
    }
    if (!Expand(&j) || !j.is_object()) {
        return Fail(Errc::kDatabase, "corrupt-tx", "stored tx body type");
    }
    return j;
}

}  // namespace

bool IsLowerHex(std::string_view s) {
    if (s.empty() || s.size() % 2 != 0) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

TxRefs RefsOf(const Tx& tx) {
    TxRefs r;
    if (tx.type != txtype::kUpdate && tx.type != txtype::kStatus) return r;
    r.sender = tx.sender.size() == 64 && IsLowerHex(tx.sender);
    r.verifier = tx.verifier.size() == 64 && IsLowerHex(tx.verifier);
    return r;
}

std::string PackTxData(const Tx& tx, TxRefs refs) {
    Json body;
    if (!Compact(tx.body, &body)) body = Json(Canonical(tx.body));
    Json arr = Json::array({refs.sender ? Json() : Str(tx.sender), Str(tx.sig),
                            refs.verifier ? Json() : Str(tx.verifier), tx.nonce, std::move(body)});
    std::string out;
    Json::to_msgpack(arr, out);
    return out;
}

std::string IndexedProduct(const Tx& tx) {
    if (tx.type == txtype::kRelease) return tx.recipient;
    if (tx.type == txtype::kAdmit) {
        auto body = AdmitTxBody::Parse(tx.body);
        return body ? body->product : "";
    }
    if (tx.type == txtype::kUpdate || tx.type == txtype::kStatus) {
        auto body = UpdateTxBody::Parse(tx.body);
        return body ? body->product : "";
    }
    return "";
}

std::vector<EncodedBlock::StoredTx> StoredTxsOf(const Block& block) {
    std::vector<EncodedBlock::StoredTx> out;
    out.reserve(block.txs.size());
    for (const Tx& tx : block.txs) out.push_back({PackTxData(tx, RefsOf(tx)), IndexedProduct(tx)});
    return out;
}

Expected<Tx> UnpackTx(std::string type, std::string recipient, std::string ver, std::string state,
                      std::int64_t time, std::string_view data, std::optional<std::string> sender,
                      std::optional<std::string> verifier) {
    FW_ASSIGN(Json j, Decode(data));
    Tx tx;
    tx.type = std::move(type);
    tx.recipient = std::move(recipient);
    tx.ver = std::move(ver);
    tx.state = std::move(state);
    tx.time = time;
    // A nil field is kept by reference: its value comes with the row.
    auto field = [&](Json& f, std::optional<std::string>& ref,
                     const char* what) -> Expected<std::string> {
        if (!f.is_null()) return TextOf(std::move(f));
        if (!ref)
            return Fail(Errc::kDatabase, "corrupt-tx",
                        std::string("stored tx ") + what + " reference is dangling");
        return std::move(*ref);
    };
    FW_ASSIGN(tx.sender, field(j[0], sender, "sender"));
    FW_ASSIGN(tx.sig, TextOf(std::move(j[1])));
    FW_ASSIGN(tx.verifier, field(j[2], verifier, "verifier"));
    if (!j[3].is_number_unsigned()) {
        return Fail(Errc::kDatabase, "corrupt-tx", "stored tx nonce type");
    }
    tx.nonce = j[3].get<std::uint64_t>();
    FW_ASSIGN(tx.body, BodyOf(std::move(j[4])));
    return tx;
}

Expected<std::string> UnpackBodyText(std::string_view data) {
    FW_ASSIGN(Json j, Decode(data));
    if (j[4].is_string()) return j[4].get<std::string>();
    FW_ASSIGN(Json body, BodyOf(std::move(j[4])));
    return Canonical(body);
}

}  // namespace fwchain::ledger
