#include "common/core/tx_bodies.hpp"

#include "common/core/bytes.hpp"
#include "common/core/crypto.hpp"

namespace fwchain {

namespace {

Unexpected BadBody(const char* type, const std::string& what) {
    return Fail(Errc::kInvalid, "bad-body", std::string(type) + " body: " + what);
}

Unexpected BadBody(const char* type, const Error& e) { return BadBody(type, e.message); }

// A body must be an object before any field is looked at.
Status CheckObject(const char* type, const Json& body) {
    if (!body.is_object()) return BadBody(type, "not an object");
    return {};
}

Expected<std::string> KeyField(const char* type, const Json& body) {
    auto key = GetString(body, "key");
    if (!key) return BadBody(type, key.error());
    if (!PublicKeyFromHex(*key)) return BadBody(type, "key is not a 32-byte public key in hex");
    return key;
}

Expected<std::string> RoleField(const char* type, const Json& body) {
    auto role = GetString(body, "role");
    if (!role) return BadBody(type, role.error());
    if (*role != kRoleDevice && *role != kRoleGateway) {
        return BadBody(type, "role must be device or gateway");
    }
    return role;
}

}  // namespace

// ---- release ----------------------------------------------------------------------------------

Json ReleaseTxBody::ToJson() const {
    Json j{{"sequence", sequence}, {"manifest_sha256", manifest_sha256}, {"hardware", hardware}};
    if (rollout) j["rollout"] = rollout->ToJson();
    if (min_approvals != 0) j["min_approvals"] = min_approvals;
    return j;
}

Expected<ReleaseTxBody> ReleaseTxBody::Parse(const Json& body, TxBodyScope scope) {
    constexpr const char* kType = "release";
    FW_TRY(CheckObject(kType, body));
    ReleaseTxBody b;
    // Unsigned as the JSON value says (the consensus rule since the first block): what a parser
    // made of a non-negative number in text; in memory, build it from a std::uint64_t.
    auto seq = body.find("sequence");
    if (seq == body.end() || !seq->is_number_unsigned()) {
        return BadBody(kType, "sequence is missing or not an unsigned integer");
    }
    b.sequence = seq->get<std::uint64_t>();
    auto manifest = GetString(body, "manifest_sha256");
    if (!manifest || !IsHex(*manifest, 32)) {
        return BadBody(kType, "manifest_sha256 is missing or not a SHA-256 in hex");
    }
    b.manifest_sha256 = std::move(*manifest);
    if (scope == TxBodyScope::kConsensus) return b;
    auto hardware = GetArray(body, "hardware");
    if (!hardware) return BadBody(kType, hardware.error());
    for (const auto& h : **hardware) {
        if (!h.is_string()) return BadBody(kType, "a hardware entry is not a string");
        b.hardware.push_back(h.get<std::string>());
    }
    if (auto r = body.find("rollout"); r != body.end()) {
        auto rollout = Rollout::Parse(*r);
        if (!rollout) return BadBody(kType, rollout.error().message);
        b.rollout = std::move(*rollout);
    }
    if (body.contains("min_approvals")) {
        auto n = GetUint(body, "min_approvals");
        if (!n || *n > 100) return BadBody(kType, "min_approvals must be in 0..100");
        b.min_approvals = static_cast<std::uint32_t>(*n);
    }
    return b;
}

// ---- admit / revoke ---------------------------------------------------------------------------

Json AdmitTxBody::ToJson() const {
    return Json{{"key", key}, {"role", role}, {"product", product}};
}

Expected<AdmitTxBody> AdmitTxBody::Parse(const Json& body) {
    constexpr const char* kType = "admit";
    FW_TRY(CheckObject(kType, body));
    AdmitTxBody b;
    FW_ASSIGN(b.key, KeyField(kType, body));
    FW_ASSIGN(b.role, RoleField(kType, body));
    if (body.contains("product")) {
        auto product = GetString(body, "product");
        if (!product) return BadBody(kType, product.error());
        b.product = std::move(*product);
    }
    return b;
}

Json RevokeTxBody::ToJson() const { return Json{{"key", key}, {"role", role}}; }

Expected<RevokeTxBody> RevokeTxBody::Parse(const Json& body) {
    constexpr const char* kType = "revoke";
    FW_TRY(CheckObject(kType, body));
    RevokeTxBody b;
    FW_ASSIGN(b.key, KeyField(kType, body));
    FW_ASSIGN(b.role, RoleField(kType, body));
    // A revoke names no product, but the ledger has always refused one that is not a string
    // (the rule admit and revoke shared): kept, so that consensus does not change.
    if (body.contains("product") && !body["product"].is_string()) {
        return BadBody(kType, "field \"product\" is not a string");
    }
    return b;
}

// ---- update -----------------------------------------------------------------------------------

Json UpdateTxBody::ToJson() const {
    Json j{{"product", product},
           {"sequence", sequence},
           {"previous_sequence", previous_sequence},
           {"gateway", gateway},
           {"reason", reason}};
    if (rejected) {
        j["rejected"] = Json{{"version", rejected->version},
                             {"sha256", rejected->sha256},
                             {"sequence", rejected->sequence}};
    }
    return j;
}

Expected<UpdateTxBody> UpdateTxBody::Parse(const Json& body) {
    constexpr const char* kType = "update";
    FW_TRY(CheckObject(kType, body));
    UpdateTxBody b;
    auto product = GetString(body, "product");
    if (!product) return BadBody(kType, product.error());
    b.product = std::move(*product);
    auto sequence = GetUint(body, "sequence");
    if (!sequence) return BadBody(kType, sequence.error());
    b.sequence = *sequence;
    auto previous = GetUint(body, "previous_sequence");
    if (!previous) return BadBody(kType, previous.error());
    b.previous_sequence = *previous;
    auto gateway = GetString(body, "gateway");
    if (!gateway) return BadBody(kType, gateway.error());
    b.gateway = std::move(*gateway);
    auto reason = GetString(body, "reason");
    if (!reason) return BadBody(kType, reason.error());
    b.reason = std::move(*reason);
    if (body.contains("rejected")) {
        auto r = GetObject(body, "rejected");
        if (!r) return BadBody(kType, r.error());
        RejectedManifest rej;
        auto version = GetString(**r, "version");
        auto sha = GetString(**r, "sha256");
        auto seq = GetUint(**r, "sequence");
        if (!version || !sha || !seq) {
            return BadBody(kType, "rejected needs version, sha256 and sequence");
        }
        // The device reports what it was shown, which may be garbage: only the types are fixed.
        rej.version = std::move(*version);
        rej.sha256 = std::move(*sha);
        rej.sequence = *seq;
        b.rejected = std::move(rej);
    }
    return b;
}

// ---- root -------------------------------------------------------------------------------------

Json RootTxBody::ToJson() const { return Json{{"root", root.ToJson()}}; }

Expected<RootTxBody> RootTxBody::Parse(const Json& body) {
    constexpr const char* kType = "root";
    FW_TRY(CheckObject(kType, body));
    auto root = GetObject(body, "root");
    if (!root) return BadBody(kType, "root is missing or not the new root envelope");
    auto env = ParseEnvelope(**root);
    if (!env) return BadBody(kType, "root envelope: " + env.error().message);
    return RootTxBody{std::move(*env)};
}

}  // namespace fwchain
