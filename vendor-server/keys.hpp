#pragma once
// Key rotation and revocation (DESIGN.md §3 rule 2, TUF): every change of a role's keys is a
// new root version N+1, signed by a threshold of root N's root keys and of its own, written to
// metadata/root/N+1.json and recorded on the ledger with a `root` tx (docs/protocol.md "Root
// rotation on the ledger"). Replaced keys move to keys/retired/ROLE-KEYID.key (0600), so an
// operator can still prove what they signed; they are never printed.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "vendor-server/outbox.hpp"

namespace fwchain::vendor {

struct RotateOptions {
    std::string data_dir;
    // Roles that get a fresh key: root, release, timestamp, admission.
    std::vector<std::string> roles;
    // Key ids dropped from every role. A revoked key that is one of this server's role keys is
    // replaced by a fresh one, so the role stays usable.
    std::vector<std::string> revoke_keyids;
    // External public keys (hex) added to a role, e.g. QA's approver keys: role -> keys.
    std::map<std::string, std::vector<std::string>> add_keys;
    // New thresholds: role -> n (must not exceed the role's key count).
    std::map<std::string, std::size_t> thresholds;
    std::int64_t expires_days = 365;  // lifetime of the new root
    std::string ledger_url;           // submit the outbox right away when set
    std::int64_t now = 0;
};

struct RotateResult {
    struct AddedKey {
        std::string role;
        std::string keyid;
    };
    std::uint64_t version = 0;                  // the new root's version
    std::map<std::string, std::string> keyids;  // role -> key generated here (public id)
    std::vector<AddedKey> added;                // outside public keys added (add-key)
    // role -> (threshold, key count) of every role whose threshold was set.
    std::map<std::string, std::pair<std::size_t, std::size_t>> thresholds;
    std::vector<std::string> removed;  // key ids no longer in the root
    std::string root_path;
    std::string root_sha256;  // signed hash of the new root
    std::string tx_id;
    std::uint64_t timestamp_version = 0;
    std::optional<SubmitReport> ledger;

    Json ToJson() const;
};

// Writes root N+1 (verified against root N with the client's own rule before anything is
// written), its `root` tx in the outbox, the new key files, and a re-signed timestamp.
// Holds the publish lock so no release is signed with a key being retired.
Expected<RotateResult> RotateRoot(const RotateOptions& opts);

}  // namespace fwchain::vendor
