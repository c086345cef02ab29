#include "vendor-server/keys.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/image_store.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {

Json RotateResult::ToJson() const {
    Json added_json = Json::array();
    for (const auto& a : added) {
        added_json.push_back({{"role", a.role}, {"keyid", a.keyid}, {"origin", "outside"}});
    }
    Json thresholds_json = Json::object();
    for (const auto& [role, tk] : thresholds) {
        thresholds_json[role] = {{"threshold", tk.first}, {"keys", tk.second}};
    }
    Json j{{"version", version},
           {"keyids", keyids},
           {"added", added_json},
           {"thresholds", thresholds_json},
           {"removed", removed},
           {"root", root_path},
           {"root_sha256", root_sha256},
           {"tx_id", tx_id},
           {"timestamp_version", timestamp_version}};
    if (ledger) j["ledger"] = ledger->ToJson();
    return j;
}

namespace {

const std::vector<std::string> kRotatableRoles = {kRootRole, kReleaseRole, kTimestampRole,
                                                  kAdmissionRole};

Status RenameFile(const std::string& from, const std::string& to) {
    if (std::rename(from.c_str(), to.c_str()) != 0) {
        return Fail(Errc::kIo, "io", "cannot rename " + from + " to " + to);
    }
    return SyncParentDir(to);
}

}  // namespace

Expected<RotateResult> RotateRoot(const RotateOptions& opts) {
    if (opts.roles.empty() && opts.revoke_keyids.empty() && opts.add_keys.empty() &&
        opts.thresholds.empty()) {
        return Fail(Errc::kInvalid, "nothing-to-do", "no role to rotate and no key to revoke");
    }
    auto known_role = [](const std::string& role) {
        return role == kApproverRole || std::find(kRotatableRoles.begin(), kRotatableRoles.end(),
                                                  role) != kRotatableRoles.end();
    };
    for (const auto& [role, keys] : opts.add_keys) {
        if (!known_role(role)) return Fail(Errc::kInvalid, "bad-role", "unknown role " + role);
        for (const auto& hex : keys) {
            if (!PublicKeyFromHex(hex)) {
                return Fail(Errc::kInvalid, "bad-key", "not a 64-hex Ed25519 public key: " + hex);
            }
        }
    }
    for (const auto& [role, n] : opts.thresholds) {
        if (!known_role(role)) return Fail(Errc::kInvalid, "bad-role", "unknown role " + role);
        if (n == 0) return Fail(Errc::kInvalid, "bad-threshold", "a threshold must be >= 1");
    }
    for (const auto& role : opts.roles) {
        if (std::find(kRotatableRoles.begin(), kRotatableRoles.end(), role) ==
            kRotatableRoles.end()) {
            return Fail(Errc::kInvalid, "bad-role",
                        "'" + role + "' is not one of root, release, timestamp, admission");
        }
    }
    if (opts.expires_days <= 0 || opts.expires_days > 36500) {
        return Fail(Errc::kInvalid, "bad-expiry", "--expires-days must be in 1..36500");
    }
    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    const std::int64_t now = opts.now != 0 ? opts.now : NowSeconds();
    FW_ASSIGN(auto lock, FileLock::Acquire(dir.PublishLock()));

    FW_ASSIGN(auto current, LatestRoot(dir));
    FW_ASSIGN(auto old_root_key, SigningKey::Load(dir.Key(kRootRole)));
    if (!current.HasRoleKey(kRootRole, old_root_key.Public())) {
        return Fail(Errc::kUnauthorized, "not-a-root-key",
                    "keys/root.key is not a root key of root v" + std::to_string(current.version));
    }
    // This server's key of each role (by id), to know which revocations need a replacement.
    std::map<std::string, std::string> local_ids;
    for (const auto& role : kRotatableRoles) {
        auto key = SigningKey::Load(dir.Key(role));
        if (key) local_ids[role] = key->Id();
    }

    Root next = current;
    next.version = current.version + 1;
    next.issued = std::max(now, current.issued);
    next.expires = next.issued + opts.expires_days * kDay;

    std::set<std::string> rotate(opts.roles.begin(), opts.roles.end());
    RotateResult result;
    for (const auto& id : opts.revoke_keyids) {
        if (next.keys.count(id) == 0) {
            return Fail(Errc::kNotFound, "unknown-key",
                        "key " + id + " is not in root v" + std::to_string(current.version));
        }
        for (auto& [role, rk] : next.roles) {
            rk.keyids.erase(std::remove(rk.keyids.begin(), rk.keyids.end(), id), rk.keyids.end());
            if (local_ids.count(role) != 0 && local_ids.at(role) == id) rotate.insert(role);
        }
    }

    std::map<std::string, SigningKey> fresh;
    for (const auto& role : rotate) {
        SigningKey key = SigningKey::Generate();
        auto& ids = next.roles[role].keyids;
        if (local_ids.count(role) != 0) {
            ids.erase(std::remove(ids.begin(), ids.end(), local_ids.at(role)), ids.end());
        }
        ids.push_back(key.Id());
        next.keys[key.Id()] = key.Public();
        result.keyids[role] = key.Id();
        fresh.emplace(role, std::move(key));
    }
    for (const auto& [role, keys] : opts.add_keys) {
        for (const auto& hex : keys) {
            const PublicKey pub = *PublicKeyFromHex(hex);
            const std::string id = KeyId(pub);
            auto& ids = next.roles[role].keyids;
            if (std::find(ids.begin(), ids.end(), id) != ids.end()) {
                return Fail(Errc::kConflict, "key-exists",
                            "key " + id + " is already a " + role + " key");
            }
            ids.push_back(id);
            next.keys[id] = pub;
            // Not in `keyids`: that lists keys generated here, whose private part is in keys/.
            result.added.push_back({role, id});
        }
    }
    for (const auto& [role, n] : opts.thresholds) next.roles[role].threshold = n;
    // Keys no role lists any more leave the root.
    for (auto it = next.keys.begin(); it != next.keys.end();) {
        bool used = false;
        for (const auto& [role, rk] : next.roles) {
            used =
                used || std::find(rk.keyids.begin(), rk.keyids.end(), it->first) != rk.keyids.end();
        }
        if (used) {
            ++it;
        } else {
            result.removed.push_back(it->first);
            it = next.keys.erase(it);
        }
    }
    for (const auto& [role, rk] : next.roles) {
        if (role == kApproverRole) continue;  // approvals are opt-in; the role may be empty
        if (rk.keyids.size() < rk.threshold) {
            return Fail(Errc::kInvalid, "role-below-threshold",
                        "role " + role + " would keep " + std::to_string(rk.keyids.size()) +
                            " key(s) for a threshold of " + std::to_string(rk.threshold));
        }
    }

    // TUF: signed by a threshold of the old root's root keys and of the new root's.
    std::vector<const SigningKey*> signers = {&old_root_key};
    if (fresh.count(kRootRole) != 0) signers.push_back(&fresh.at(kRootRole));
    Envelope env = SignDocument(MakeRootSigned(next), signers);
    // Check with the rule every device applies before anything is written.
    auto walked = VerifyRootChain(current, {env}, now);
    if (!walked) return Fail(Context(walked.error(), "new root does not verify"));

    Tx tx;
    tx.type = "root";
    tx.recipient = cfg.vendor;
    tx.ver = std::to_string(next.version);
    tx.verifier = env.SignedHash();
    tx.time = now;
    tx.nonce = RandomNonce();
    tx.body = RootTxBody{env}.ToJson();
    tx.SignWith(old_root_key);  // a root key of the *current* root authorises the change
    if (Canonical(tx.ToJson()).size() > kMaxTxSize) {
        return Fail(Errc::kTooLarge, "root-too-large", "the new root does not fit in a tx");
    }

    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    // Declared before the Rollback: its failure action uses them when it is destroyed.
    Timestamp ts;
    std::vector<std::string> swapped;  // roles whose key file was replaced
    bool timestamp_written = false;
    const std::string root_path = dir.RootFile(next.version);
    Rollback rollback;
    for (const auto& [role, key] : fresh) {
        const std::string staged = dir.Key(role) + ".new";
        rollback.RemoveOnFailure(staged);
        FW_TRY(key.Save(staged));
    }
    if (FileExists(root_path)) {
        return Fail(Errc::kConflict, "root-exists", root_path + " already exists");
    }
    rollback.RemoveOnFailure(root_path);
    FW_TRY(MakeDirs(dir.RetiredKeysDir(), 0700));
    // Root, tx, key swap and timestamp in one catalog write transaction: `serve` re-signs the
    // timestamp under the same lock, reading the key file inside it, so it sees either the old
    // root with the old key or the new root with the new key.
    // Undo in order: the root file goes, the old keys come back, and (if a new timestamp was
    // written before the failed COMMIT) the timestamp is re-signed for the old root.
    rollback.OnFailure([&] {
        ::unlink(root_path.c_str());
        for (auto it = swapped.rbegin(); it != swapped.rend(); ++it) {
            const std::string& role = *it;
            (void)RenameFile(dir.Key(role), dir.Key(role) + ".new");
            if (local_ids.count(role) != 0) {
                (void)RenameFile(
                    dir.RetiredKeysDir() + "/" + role + "-" + local_ids.at(role) + ".key",
                    dir.Key(role));
            }
        }
        if (timestamp_written) {
            (void)RefreshTimestamp(dir, catalog, now, cfg.timestamp_lifetime);
        }
    });
    FW_TRY(catalog.Write([&]() -> Status {
        FW_TRY(catalog.InsertOutbox(tx));
        FW_TRY(WriteFileAtomic(root_path, env.Serialize()));
        for (const auto& [role, key] : fresh) {
            if (FileExists(dir.Key(role)) && local_ids.count(role) != 0) {
                FW_TRY(RenameFile(dir.Key(role), dir.RetiredKeysDir() + "/" + role + "-" +
                                                     local_ids.at(role) + ".key"));
            }
            swapped.push_back(role);
            FW_TRY(RenameFile(dir.Key(role) + ".new", dir.Key(role)));
        }
        FW_ASSIGN(auto ts_key, SigningKey::Load(dir.Key(kTimestampRole)));
        timestamp_written = true;
        FW_ASSIGN(ts, WriteTimestamp(dir, catalog, ts_key, now, cfg.timestamp_lifetime));
        return {};
    }));
    rollback.Commit();

    for (const auto& [role, n] : opts.thresholds) {
        result.thresholds[role] = {n, next.roles[role].keyids.size()};
    }
    result.version = next.version;
    result.root_path = root_path;
    result.root_sha256 = env.SignedHash();
    result.tx_id = tx.Id();
    result.timestamp_version = ts.version;
    if (!opts.ledger_url.empty()) {
        FW_ASSIGN(auto report, SubmitOutbox(catalog, opts.ledger_url));
        result.ledger = std::move(report);
    }
    return result;
}

}  // namespace fwchain::vendor
