#pragma once
// The `body` of each ledger transaction type (DESIGN.md §5, docs/protocol.md "Ledger
// transactions"): the one definition of what each body is on the wire. Whoever writes a body
// builds it here (ToJson), whoever reads one parses it here (Parse); nobody reads a body by key.
//
// Parse refuses a missing or mistyped field with Errc::kInvalid, reason "bad-body", naming the
// type and the field. Fields not listed are ignored (a body is signed, so its bytes are kept as
// they are; only these fields mean anything).
//
// Consensus: the ledger's shape rules (ledger/consensus/validation.cpp) are these parsers. A
// `release` body's `hardware` is informational and was never a consensus rule, so the ledger
// parses release bodies with TxBodyScope::kConsensus, which leaves it out; every other parser
// here is the same in both scopes. `update` bodies are not checked by consensus at all (a device
// signs its own reports; what it says is its business), only by the programs that read them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/envelope.hpp"
#include "common/core/json.hpp"
#include "common/core/rollout.hpp"

namespace fwchain {

enum class TxBodyScope {
    kFull,       // every field of the definition: what the programs write and read
    kConsensus,  // only the fields the ledger's validity rules have always enforced
};

// release (sender: a release key): the manifest a release tx records, with a copy of its
// rollout policy so that nodes can show a rollout's state without the manifest (gateways decide
// from the manifest itself, and offer nothing when the two differ).
struct ReleaseTxBody {
    std::uint64_t sequence = 0;
    std::string manifest_sha256;        // 64 hex: SignedHash() of the manifest envelope
    std::vector<std::string> hardware;  // informational (TxBodyScope)
    std::optional<Rollout> rollout;     // the manifest's, when it has one (kFull only)
    std::uint32_t min_approvals = 0;    // the manifest's (kFull only)

    bool operator==(const ReleaseTxBody&) const = default;
    Json ToJson() const;
    static Expected<ReleaseTxBody> Parse(const Json& body, TxBodyScope scope = TxBodyScope::kFull);
};

inline constexpr const char* kRoleDevice = "device";
inline constexpr const char* kRoleGateway = "gateway";

// admit (sender: an admission key): a device or gateway key enters the registry.
struct AdmitTxBody {
    std::string key;      // 64 hex: the subject's Ed25519 public key
    std::string role;     // "device" | "gateway"
    std::string product;  // optional on the wire ("" when absent); devices name theirs

    bool operator==(const AdmitTxBody&) const = default;
    Json ToJson() const;
    static Expected<AdmitTxBody> Parse(const Json& body);
};

// revoke (sender: an admission key): a registered key is revoked for good. A `product` is not
// part of it, but is refused when it is not a string (a consensus rule shared with admit).
struct RevokeTxBody {
    std::string key;   // 64 hex public key
    std::string role;  // "device" | "gateway"

    bool operator==(const RevokeTxBody&) const = default;
    Json ToJson() const;
    static Expected<RevokeTxBody> Parse(const Json& body);
};

// What a device refused, named in its `failed` report (so the failure is not read as the
// release it runs).
struct RejectedManifest {
    std::string version;
    std::string sha256;
    std::uint64_t sequence = 0;
    bool operator==(const RejectedManifest&) const = default;
};

// update (sender: an admitted device): the device's signed report.
struct UpdateTxBody {
    std::string product;
    std::uint64_t sequence = 0;           // the sequence the report is about
    std::uint64_t previous_sequence = 0;  // what the device ran before
    std::string gateway;                  // the gateway that relayed it
    std::string reason;                   // "" or the failure reason
    std::optional<RejectedManifest> rejected;

    bool operator==(const UpdateTxBody&) const = default;
    Json ToJson() const;
    static Expected<UpdateTxBody> Parse(const Json& body);
};

// root (sender: a root key of the current root): the next root, TUF-chained.
struct RootTxBody {
    Envelope root;

    Json ToJson() const;
    static Expected<RootTxBody> Parse(const Json& body);
};

// approve (sender: an approver key) has an empty body: the tx's recipient names the release tx.
// rollout (sender: a release or approver key) has an empty body: the recipient names the release
// tx and `state` the action (rollout.hpp: pause, resume, abort).

}  // namespace fwchain
