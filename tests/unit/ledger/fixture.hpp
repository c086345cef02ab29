#pragma once
// Keys, a vendor root, a low-difficulty genesis and tx/block builders shared by the ledger tests.
#include <atomic>
#include <map>
#include <set>
#include <string>

#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
#include "ledger/consensus/miner.hpp"
#include "ledger/consensus/validation.hpp"
#include "ledger/primitives/block.hpp"
#include "tests/support/malleate.hpp"

namespace fwchain::ledger::testing {

struct Keys {
    SigningKey root = SigningKey::Generate();
    SigningKey release = SigningKey::Generate();
    SigningKey timestamp = SigningKey::Generate();
    SigningKey admission = SigningKey::Generate();
    SigningKey approver = SigningKey::Generate();
    SigningKey miner = SigningKey::Generate();
    SigningKey gateway = SigningKey::Generate();
    SigningKey device = SigningKey::Generate();
    SigningKey device2 = SigningKey::Generate();
    SigningKey outsider = SigningKey::Generate();
};

inline ChainParams TestParams() {
    ChainParams p;
    p.initial_bits = 4;  // a few dozen hashes per block
    p.target_interval = 10;
    p.retarget_window = 8;
    p.confirmations = 2;
    return p;
}

// Vendor "acme"'s root: `root_key` and `release_key` in those roles, the other roles from `k`.
inline Root MakeRoot(const Keys& k, std::uint64_t version, const SigningKey& root_key,
                     const SigningKey& release_key, std::int64_t issued, std::int64_t expires) {
    Root root;
    root.vendor = "acme";
    root.version = version;
    root.issued = issued;
    root.expires = expires;
    const std::pair<const char*, const SigningKey*> roles[] = {{"root", &root_key},
                                                               {"release", &release_key},
                                                               {"timestamp", &k.timestamp},
                                                               {"admission", &k.admission},
                                                               {"approver", &k.approver}};
    for (const auto& [name, key] : roles) {
        root.keys[key->Id()] = key->Public();
        root.roles[name] = RoleKeys{{key->Id()}, 1};
    }
    return root;
}

inline Envelope MakeRootEnvelope(const Keys& k, std::int64_t now) {
    return SignDocument(MakeRootSigned(MakeRoot(k, 1, k.root, k.release, now, now + 365 * 86400)),
                        {&k.root});
}

inline Block MakeTestGenesis(const Keys& k, std::int64_t now, ChainParams params = TestParams()) {
    GenesisSpec spec;
    spec.root = MakeRootEnvelope(k, now);
    spec.miners = {k.miner.Public()};
    spec.params = params;
    spec.timestamp = now;
    spec.message = "test genesis";
    return MakeGenesisBlock(spec, k.miner);
}

inline Hash256 Leaf(std::uint8_t v) {
    Hash256 h{};
    h.fill(v);
    return h;
}

inline std::uint64_t RandomNonce() {
    std::uint8_t b[8];
    RandomBytes(b, sizeof(b));
    return GetLe64(b);
}

inline Tx Signed(Tx tx, const SigningKey& key) {
    tx.SignWith(key);
    return tx;
}

inline Tx AdmitTx(const SigningKey& admission, const std::string& subject, const SigningKey& key,
                  const std::string& role_name, const std::string& product = "cam") {
    Tx tx;
    tx.type = txtype::kAdmit;
    tx.recipient = subject;
    tx.time = NowSeconds();
    tx.nonce = RandomNonce();
    tx.body = AdmitTxBody{key.PublicHex(), role_name, product}.ToJson();
    return Signed(tx, admission);
}

inline Tx RevokeTx(const SigningKey& admission, const std::string& subject, const SigningKey& key,
                   const std::string& role_name) {
    Tx tx;
    tx.type = txtype::kRevoke;
    tx.recipient = subject;
    tx.time = NowSeconds();
    tx.nonce = RandomNonce();
    tx.body = RevokeTxBody{key.PublicHex(), role_name}.ToJson();
    return Signed(tx, admission);
}

inline Tx ReleaseTx(const SigningKey& signer, const std::string& product, const std::string& ver,
                    std::uint64_t sequence) {
    Tx tx;
    tx.type = txtype::kRelease;
    tx.recipient = product;
    tx.ver = ver;
    tx.verifier = Sha256Hex("image " + ver);
    tx.time = NowSeconds();
    tx.nonce = RandomNonce();
    tx.body =
        ReleaseTxBody{sequence, Sha256Hex("manifest " + ver), {"rev-b"}, std::nullopt, 0}.ToJson();
    return Signed(tx, signer);
}

inline Tx UpdateTx(const SigningKey& device, const std::string& device_id, std::uint64_t nonce,
                   const std::string& state = "installed", const std::string& ver = "1.0.0") {
    Tx tx;
    tx.type = txtype::kUpdate;
    tx.recipient = device_id;
    tx.ver = ver;
    tx.verifier = Sha256Hex("image " + ver);
    tx.state = state;
    tx.time = NowSeconds();
    tx.nonce = nonce;
    tx.body = UpdateTxBody{"cam", 1, 0, "gw1", "", std::nullopt}.ToJson();
    return Signed(tx, device);
}

inline Tx ApproveTx(const SigningKey& signer, const std::string& release_id) {
    Tx tx;
    tx.type = txtype::kApprove;
    tx.recipient = release_id;
    tx.time = NowSeconds();
    tx.nonce = RandomNonce();
    return Signed(tx, signer);
}

// A pause/resume/abort of a release's rollout.
inline Tx RolloutTx(const SigningKey& signer, const std::string& release_id,
                    const std::string& action) {
    Tx tx;
    tx.type = txtype::kRollout;
    tx.recipient = release_id;
    tx.state = action;
    tx.time = NowSeconds();
    tx.nonce = RandomNonce();
    return Signed(tx, signer);
}

// The same tx with its signature's S replaced by S + L (the group order): what a relay could make
// of a signature without the key if S were not range-checked (RFC 8032 §5.1.7).
inline Tx MalleateS(Tx tx) {
    Bytes sig = *FromHex(tx.sig);
    test::AddOrderToS(sig.data());
    tx.sig = ToHex(sig);
    return tx;
}

// Solves the header (single thread) and signs it with `signer`.
inline void SolveAndSign(Block& b, const SigningKey& signer) {
    std::atomic<bool> stop{false};
    MinerOptions mo;
    mo.low_priority = false;
    mo.extra_nonce_base = b.header.extra_nonce;
    auto h = MineHeader(b.header, mo, stop);
    b.header = *h;
    const Hash256 hash = b.Hash();
    b.miner_sig = signer.Sign(hash.data(), hash.size());
}

// An in-memory chain view for the pure consensus tests.
class MapView final : public ChainView {
  public:
    explicit MapView(Root root) : root_(std::move(root)) {}
    Expected<std::optional<KeyRecord>> FindKey(const std::string& key_hex) const override {
        auto it = keys.find(key_hex);
        if (it == keys.end()) return std::optional<KeyRecord>();
        return std::optional<KeyRecord>(it->second);
    }
    Expected<bool> HasTx(const std::string& id) const override { return txs.count(id) != 0; }
    Expected<std::optional<std::string>> ClaimedBy(const std::string& claim) const override {
        auto it = claims.find(claim);
        if (it == claims.end()) return std::optional<std::string>();
        return std::optional<std::string>(it->second);
    }
    const Root& CurrentRoot() const override { return root_; }

    void AddKey(const SigningKey& key, const std::string& role_name, const std::string& subject) {
        KeyRecord r;
        r.key = key.PublicHex();
        r.role = role_name;
        r.subject = subject;
        keys[r.key] = r;
    }

    std::map<std::string, KeyRecord> keys;
    std::set<std::string> txs;
    std::map<std::string, std::string> claims;

  private:
    Root root_;
};

}  // namespace fwchain::ledger::testing
