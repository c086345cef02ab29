#include "ledger/consensus/validation.hpp"

#include <cstring>
#include <unordered_set>

#include "common/core/rollout.hpp"
#include "common/core/tx_bodies.hpp"
#include "ledger/consensus/pow.hpp"
#include "ledger/primitives/merkle.hpp"

namespace fwchain::ledger {

bool ValidationState::Invalid(std::string reject_reason, std::string debug) {
    mode_ = Mode::kInvalid;
    reject_ = std::move(reject_reason);
    debug_ = std::move(debug);
    return false;
}

bool ValidationState::SetError(Error e) {
    mode_ = Mode::kError;
    reject_ = e.reason;
    debug_ = e.message;
    error_ = std::move(e);
    return false;
}

Error ValidationState::ToError() const {
    if (mode_ == Mode::kError) return error_;
    Errc code = Errc::kVerify;
    if (reject_ == reject::kDuplicateTx || reject_ == reject::kReplayedNonce ||
        reject_ == reject::kDuplicateRelease || reject_ == reject::kDuplicateApproval) {
        code = Errc::kConflict;
    } else if (reject_ == reject::kUnauthorizedTx || reject_ == reject::kBadMiner) {
        code = Errc::kUnauthorized;
    } else if (reject_ == reject::kBadTx || reject_ == reject::kBadLength) {
        code = Errc::kInvalid;
    }
    return MakeError(code, reject_, debug_.empty() ? reject_ : debug_);
}

std::string ValidationState::ToString() const {
    if (IsValid()) return "valid";
    return debug_.empty() ? reject_ : reject_ + " (" + debug_ + ")";
}

// ---------------------------------------------------------------------------------------------

std::optional<std::string> UniqueClaim(const Tx& tx) {
    if (tx.type == txtype::kRelease) {
        auto body = ReleaseTxBody::Parse(tx.body, TxBodyScope::kConsensus);
        if (!body) return std::nullopt;
        return "release/" + tx.recipient + "/" + std::to_string(body->sequence);
    }
    if (tx.type == txtype::kApprove) return "approve/" + tx.recipient + "/" + tx.sender;
    return std::nullopt;
}

Expected<std::optional<KeyRecord>> StateOverlay::FindKey(const std::string& key_hex) const {
    auto it = keys_.find(key_hex);
    if (it != keys_.end()) return std::optional<KeyRecord>(it->second);
    auto seen = base_keys_.find(key_hex);
    if (seen != base_keys_.end()) return seen->second;
    FW_ASSIGN(auto rec, base_->FindKey(key_hex));
    base_keys_.emplace(key_hex, rec);
    return rec;
}

Expected<std::optional<std::string>> StateOverlay::ClaimedBy(const std::string& claim) const {
    auto it = claims_.find(claim);
    if (it != claims_.end()) return std::optional<std::string>(it->second);
    return base_->ClaimedBy(claim);
}

const std::optional<KeyRecord>* StateOverlay::BaseKey(const std::string& key_hex) const {
    auto it = base_keys_.find(key_hex);
    return it == base_keys_.end() ? nullptr : &it->second;
}

Expected<bool> StateOverlay::HasTx(const std::string& id) const {
    if (tx_ids_.count(id) != 0) return true;
    auto known = base_txs_.find(id);
    if (known != base_txs_.end()) return known->second;
    return base_->HasTx(id);
}

void StateOverlay::PrimeKeys(std::vector<std::pair<std::string, std::optional<KeyRecord>>> keys) {
    for (auto& [key, rec] : keys) base_keys_.emplace(std::move(key), std::move(rec));
}

void StateOverlay::PrimeTxs(const std::vector<std::string>& tx_ids,
                            const std::set<std::string>& present) {
    base_txs_.reserve(base_txs_.size() + tx_ids.size());
    for (const auto& id : tx_ids) base_txs_.emplace(id, present.count(id) != 0);
}

void StateOverlay::AddMiners(const GenesisInfo& genesis, std::uint64_t height) {
    for (const auto& m : genesis.miners) {
        KeyRecord r;
        r.key = ToHex(m);
        r.subject = genesis.root.vendor;
        r.role = role::kMiner;
        r.height = height;
        keys_[r.key] = r;
    }
}

Status StateOverlay::Apply(const Tx& tx, const std::string& tx_id, std::uint64_t height) {
    tx_ids_.insert(tx_id);
    if (auto claim = UniqueClaim(tx)) claims_.emplace(*claim, tx_id);
    if (tx.type == txtype::kAdmit) {
        FW_ASSIGN(AdmitTxBody body, AdmitTxBody::Parse(tx.body));
        KeyRecord r;
        r.key = std::move(body.key);
        r.subject = tx.recipient;
        r.role = std::move(body.role);
        r.product = std::move(body.product);
        r.height = height;
        keys_[r.key] = r;
    } else if (tx.type == txtype::kRevoke) {
        FW_ASSIGN(RevokeTxBody body, RevokeTxBody::Parse(tx.body));
        const std::string& key = body.key;
        FW_ASSIGN(auto rec, FindKey(key));
        if (!rec) return Fail(Errc::kInternal, "revoke-unknown", "revoke of unknown key " + key);
        rec->revoked = true;
        rec->revoked_height = height;
        keys_[key] = *rec;
    } else if (tx.type == kRootTxType) {
        auto body = RootTxBody::Parse(tx.body);
        if (!body) return Fail(Context(body.error(), "root tx"));
        FW_ASSIGN(Root root, ParseRoot(body->root));
        roots_.push_back(std::move(root));
    } else if (tx.type == txtype::kUpdate || tx.type == txtype::kStatus) {
        FW_ASSIGN(auto rec, FindKey(tx.sender));
        if (!rec) return Fail(Errc::kInternal, "update-unknown", "update by unknown key");
        rec->last_nonce = tx.nonce;
        keys_[tx.sender] = *rec;
    }
    return {};
}

// ---------------------------------------------------------------------------------------------

namespace {

const std::set<std::string>& KnownTypes() {
    static const std::set<std::string> kTypes = {
        txtype::kGenesis, txtype::kRelease, txtype::kAdmit, txtype::kRevoke, txtype::kUpdate,
        txtype::kApprove, txtype::kStatus,  kRootTxType,    txtype::kRollout};
    return kTypes;
}

const std::set<std::string>& UpdateStates() {
    static const std::set<std::string> kStates = {"installed", "failed", "rolled-back",
                                                  "up-to-date", "downloading"};
    return kStates;
}

bool HasRole(const Root& root, const char* role_name, const std::string& sender_hex) {
    auto key = PublicKeyFromHex(sender_hex);
    return key && root.HasRoleKey(role_name, *key);
}

bool CheckRootRotation(const Tx& tx, const Root& current, ValidationState& state) {
    if (!HasRole(current, "root", tx.sender)) {
        return state.Invalid(reject::kUnauthorizedTx, "sender is not a root key");
    }
    if (tx.recipient != current.vendor) {
        return state.Invalid(reject::kBadTx, "root tx recipient must be the vendor");
    }
    auto body = RootTxBody::Parse(tx.body);
    if (!body) return state.Invalid(reject::kBadTx, body.error().message);
    const Envelope* env = &body->root;
    if (tx.verifier != env->SignedHash()) {
        return state.Invalid(reject::kBadTx, "verifier is not the new root's signed hash");
    }
    if (tx.ver != std::to_string(current.version + 1)) {
        return state.Invalid(reject::kBadTx, "ver must be the current root version + 1");
    }
    auto parsed = ParseRoot(*env);
    if (!parsed) return state.Invalid(reject::kBadTx, "new root: " + parsed.error().message);
    if (parsed->version != current.version + 1) {
        return state.Invalid(reject::kBadTx, "new root version must be current + 1");
    }
    // Expiry is not checked (the chain outlives documents): evaluate it at its own issue time.
    auto chained = VerifyRootChain(current, {*env}, parsed->issued);
    if (!chained) {
        return state.Invalid(reject::kUnauthorizedTx,
                             "root chain does not verify: " + chained.error().message);
    }
    return true;
}

}  // namespace

bool CheckTxShape(const Tx& tx, ValidationState& state, bool check_signature) {
    if (KnownTypes().count(tx.type) == 0) return state.Invalid(reject::kBadTx, "unknown tx type");
    // What PublicKeyFromHex accepts, without decoding (the signature check decodes it).
    if (!IsHex(tx.sender, 32)) return state.Invalid(reject::kBadTx, "sender not a key");
    if (!tx.body.is_object()) return state.Invalid(reject::kBadTx, "body must be an object");
    if (check_signature && !tx.SignatureValid()) {
        return state.Invalid(reject::kBadTx, "tx signature does not verify");
    }
    if (tx.type == txtype::kGenesis) return true;  // body checked by ParseGenesisTx
    if (tx.recipient.empty()) return state.Invalid(reject::kBadTx, "recipient must not be empty");

    // The bodies' own parsers (common/core/tx_bodies.hpp) are the shape rules.
    if (tx.type == txtype::kRelease) {
        auto body = ReleaseTxBody::Parse(tx.body, TxBodyScope::kConsensus);
        if (!body) return state.Invalid(reject::kBadTx, body.error().message);
        if (!IsHex(tx.verifier, 32)) {
            return state.Invalid(reject::kBadTx, "release verifier must be the image sha256");
        }
    } else if (tx.type == txtype::kAdmit) {
        auto body = AdmitTxBody::Parse(tx.body);
        if (!body) return state.Invalid(reject::kBadTx, body.error().message);
    } else if (tx.type == txtype::kRevoke) {
        auto body = RevokeTxBody::Parse(tx.body);
        if (!body) return state.Invalid(reject::kBadTx, body.error().message);
    } else if (tx.type == kRootTxType) {
        // Only the envelope's presence here; CheckRootRotation parses it once the sender is
        // known to be a root key (so an outsider's tx is refused as unauthorised first).
        if (!GetObject(tx.body, "root")) {
            return state.Invalid(reject::kBadTx, "root body needs the new root envelope");
        }
        if (!IsHex(tx.verifier, 32)) {
            return state.Invalid(reject::kBadTx, "root verifier must be the signed hash");
        }
    } else if (tx.type == txtype::kRollout) {
        if (!IsHex(tx.recipient, 32)) {
            return state.Invalid(reject::kBadTx, "rollout recipient must be a release tx id");
        }
        if (!ValidRolloutAction(tx.state)) {
            return state.Invalid(reject::kBadTx, "rollout state must be pause, resume or abort");
        }
    } else if (tx.type == txtype::kUpdate) {
        if (UpdateStates().count(tx.state) == 0) {
            return state.Invalid(reject::kBadTx, "unknown update state '" + tx.state + "'");
        }
    }
    return true;
}

namespace {

// CheckTxForChain after CheckTxShape: a block's txs had their shapes checked by
// CheckBlockContextFree already, so ValidateBlock calls this (each key decoded once).
bool CheckShapedTxForChain(const Tx& tx, const std::string& tx_id, std::uint64_t height,
                           const ChainView& view, ValidationState& state) {
    if (tx.type == txtype::kGenesis) {
        // Block 0 goes through ValidateGenesisBlock; everywhere else a genesis tx is forbidden.
        return state.Invalid(reject::kUnauthorizedTx,
                             "genesis tx only in block 0, not at height " + std::to_string(height));
    }
    auto known = view.HasTx(tx_id);
    if (!known) return state.SetError(known.error());
    if (*known) return state.Invalid(reject::kDuplicateTx, "tx " + tx_id + " already in chain");

    const Root& root = view.CurrentRoot();
    // One claim per chain (UniqueClaim), checked after authorisation so that an outsider learns
    // nothing from the answer.
    auto check_claim = [&](const char* reject_reason, const std::string& what) {
        auto claim = UniqueClaim(tx);
        if (!claim) return true;
        auto holder = view.ClaimedBy(*claim);
        if (!holder) return state.SetError(holder.error());
        if (*holder)
            return state.Invalid(reject_reason, what + " is already recorded by tx " + **holder);
        return true;
    };
    if (tx.type == txtype::kRelease) {
        if (!HasRole(root, "release", tx.sender)) {
            return state.Invalid(reject::kUnauthorizedTx, "sender is not a release key");
        }
        auto body = ReleaseTxBody::Parse(tx.body, TxBodyScope::kConsensus);
        if (!body) return state.Invalid(reject::kBadTx, body.error().message);
        return check_claim(reject::kDuplicateRelease, "release " + tx.recipient + " sequence " +
                                                          std::to_string(body->sequence));
    }
    if (tx.type == kRootTxType) return CheckRootRotation(tx, root, state);
    if (tx.type == txtype::kApprove) {
        if (!HasRole(root, "approver", tx.sender)) {
            return state.Invalid(reject::kUnauthorizedTx, "sender is not an approver key");
        }
        return check_claim(reject::kDuplicateApproval,
                           "an approval of " + tx.recipient + " by this key");
    }
    if (tx.type == txtype::kRollout) {
        if (!HasRole(root, "release", tx.sender) && !HasRole(root, "approver", tx.sender)) {
            return state.Invalid(reject::kUnauthorizedTx,
                                 "sender is neither a release nor an approver key");
        }
        return true;
    }
    if (tx.type == txtype::kAdmit || tx.type == txtype::kRevoke) {
        if (!HasRole(root, "admission", tx.sender)) {
            return state.Invalid(reject::kUnauthorizedTx, "sender is not an admission key");
        }
        // CheckTxShape parsed the body already; admit and revoke both name a key and its role.
        std::string key;
        std::string role_name;
        if (tx.type == txtype::kAdmit) {
            auto body = AdmitTxBody::Parse(tx.body);
            if (!body) return state.Invalid(reject::kBadTx, body.error().message);
            key = std::move(body->key);
            role_name = std::move(body->role);
        } else {
            auto body = RevokeTxBody::Parse(tx.body);
            if (!body) return state.Invalid(reject::kBadTx, body.error().message);
            key = std::move(body->key);
            role_name = std::move(body->role);
        }
        auto rec = view.FindKey(key);
        if (!rec) return state.SetError(rec.error());
        if (tx.type == txtype::kAdmit) {
            // Revocation is final: a revoked key stays revoked, so re-admission needs a new key.
            if (*rec) return state.Invalid(reject::kBadTx, "key already in the registry");
            return true;
        }
        if (!*rec) return state.Invalid(reject::kBadTx, "revoke of a key that was never admitted");
        if ((*rec)->revoked) return state.Invalid(reject::kBadTx, "key already revoked");
        const bool role_ok = (*rec)->role == role_name ||
                             ((*rec)->role == role::kMiner && role_name == role::kGateway);
        if (!role_ok) return state.Invalid(reject::kBadTx, "revoke role does not match");
        return true;
    }
    // update / status
    auto rec = view.FindKey(tx.sender);
    if (!rec) return state.SetError(rec.error());
    if (!*rec || (*rec)->role != role::kDevice) {
        return state.Invalid(reject::kUnauthorizedTx, "sender is not an admitted device");
    }
    if ((*rec)->revoked) return state.Invalid(reject::kUnauthorizedTx, "device key is revoked");
    if ((*rec)->subject != tx.recipient) {
        return state.Invalid(reject::kUnauthorizedTx,
                             "recipient differs from the device id the key was admitted for");
    }
    if ((*rec)->last_nonce && tx.nonce <= *(*rec)->last_nonce) {
        return state.Invalid(reject::kReplayedNonce, "nonce " + std::to_string(tx.nonce) +
                                                         " not above last " +
                                                         std::to_string(*(*rec)->last_nonce));
    }
    return true;
}

}  // namespace

bool CheckTxForChain(const Tx& tx, const std::string& tx_id, std::uint64_t height,
                     const ChainView& view, ValidationState& state, bool check_signature) {
    if (!CheckTxShape(tx, state, check_signature)) return false;
    return CheckShapedTxForChain(tx, tx_id, height, view, state);
}

// ---------------------------------------------------------------------------------------------

bool CheckMinerSignature(const Block& block) {
    const Hash256 hash = block.Hash();
    return Verify(block.header.miner, hash.data(), hash.size(), block.miner_sig);
}

bool CheckBlockHeader(const BlockHeader& header, const BlockContext& ctx, const ChainParams& params,
                      ValidationState& state) {
    if (header.version != 1) return state.Invalid(reject::kBadVersion, "unknown block version");
    if (header.prev_hash != ctx.prev_hash) {
        return state.Invalid(reject::kBadPrevBlk, "prev_hash does not link to the parent");
    }
    if (header.height != ctx.prev_height + 1) {
        return state.Invalid(reject::kBadHeight, "height is not parent height + 1");
    }
    if (header.bits != ctx.required_bits) {
        return state.Invalid(reject::kBadBits, "bits " + std::to_string(header.bits) +
                                                   ", required " +
                                                   std::to_string(ctx.required_bits));
    }
    if (!CheckProofOfWork(header.Hash(), header.bits, params)) {
        return state.Invalid(reject::kHighHash, "proof of work failed");
    }
    if (header.timestamp <= ctx.median_time_past) {
        return state.Invalid(reject::kTimeTooOld, "timestamp not above median time past");
    }
    if (header.timestamp > ctx.now + kMaxFutureBlockTime) {
        return state.Invalid(reject::kTimeTooNew, "timestamp more than 2 h in the future");
    }
    return true;
}

bool CheckBlockContextFree(const EncodedBlock& encoded, const BlockContext& ctx,
                           const ChainParams& params, ValidationState& state) {
    const Block& block = encoded.block();
    if (!CheckBlockHeader(block.header, ctx, params, state)) return false;
    if (!CheckMinerSignature(block)) return state.Invalid(reject::kBadSig, "miner signature");
    if (block.txs.size() > kMaxBlockTxs || block.message.size() > kMaxMessageSize) {
        return state.Invalid(reject::kBadLength, "too many txs or message too long");
    }
    if (encoded.text().size() > kMaxBlockSize) {
        return state.Invalid(reject::kBadLength, "block larger than 4 MiB");
    }
    // The ids as the bytes EncodedBlock hashed them to (no hex round trip).
    const std::vector<Hash256>& hashes = encoded.tx_hashes();
    if (MerkleRoot(hashes) != block.header.merkle_root) {
        return state.Invalid(reject::kBadMerkle, "merkle root does not match the txs");
    }
    struct IdHash {
        std::size_t operator()(const Hash256& h) const {
            std::size_t v = 0;  // SHA-256 output: any 8 bytes are uniform
            std::memcpy(&v, h.data(), sizeof(v));
            return v;
        }
    };
    std::unordered_set<Hash256, IdHash> seen;
    seen.reserve(hashes.size());
    for (std::size_t i = 0; i < hashes.size(); ++i) {
        if (!seen.insert(hashes[i]).second) {
            return state.Invalid(reject::kDuplicateTx,
                                 "tx " + encoded.tx_ids()[i] + " twice in the block");
        }
    }
    const bool check_signatures = !encoded.signatures_verified();
    for (std::size_t i = 0; i < block.txs.size(); ++i) {
        ValidationState tx_state;
        if (!CheckTxShape(block.txs[i], tx_state, check_signatures)) {
            return state.Invalid(tx_state.RejectReason(),
                                 "tx " + std::to_string(i) + ": " + tx_state.Debug());
        }
    }
    return true;
}

bool ValidateBlock(const EncodedBlock& encoded, const BlockContext& ctx, const ChainParams& params,
                   StateOverlay& overlay, ValidationState& state) {
    const Block& block = encoded.block();
    if (!CheckBlockHeader(block.header, ctx, params, state)) return false;

    auto miner = overlay.FindKey(ToHex(block.header.miner));
    if (!miner) return state.SetError(miner.error());
    if (!*miner || !(*miner)->CanMine()) {
        return state.Invalid(reject::kBadMiner, "miner key is not admitted or is revoked");
    }
    if (!CheckBlockContextFree(encoded, ctx, params, state)) return false;
    const std::vector<std::string>& ids = encoded.tx_ids();
    for (std::size_t i = 0; i < block.txs.size(); ++i) {
        ValidationState tx_state;
        // Shapes and signatures were checked above.
        if (!CheckShapedTxForChain(block.txs[i], ids[i], block.header.height, overlay, tx_state)) {
            if (tx_state.IsError()) return state.SetError(tx_state.ToError());
            return state.Invalid(tx_state.RejectReason(),
                                 "tx " + std::to_string(i) + ": " + tx_state.Debug());
        }
        auto applied = overlay.Apply(block.txs[i], ids[i], block.header.height);
        if (!applied) return state.SetError(applied.error());
    }
    return true;
}

bool ValidateGenesisBlock(const Block& block, const Hash256& expected_hash, ValidationState& state,
                          GenesisInfo* out) {
    const BlockHeader& h = block.header;
    if (block.Hash() != expected_hash) {
        return state.Invalid(reject::kBadGenesis, "genesis hash differs from the configured one");
    }
    if (h.version != 1 || h.height != 0 || h.prev_hash != Hash256{}) {
        return state.Invalid(reject::kBadGenesis, "genesis header must be version 1, height 0");
    }
    if (block.txs.size() != 1) return state.Invalid(reject::kBadGenesis, "genesis needs one tx");
    const Tx& tx = block.txs[0];
    if (!tx.SignatureValid()) return state.Invalid(reject::kBadTx, "genesis tx signature");
    auto info = ParseGenesisTx(tx);
    if (!info) return state.Invalid(reject::kBadGenesis, info.error().message);
    if (h.bits != info->params.initial_bits) {
        return state.Invalid(reject::kBadBits, "genesis bits differ from initial_bits");
    }
    if (!CheckProofOfWork(block.Hash(), h.bits, info->params)) {
        return state.Invalid(reject::kHighHash, "proof of work failed");
    }
    bool miner_named = false;
    for (const auto& m : info->miners) miner_named = miner_named || m == h.miner;
    if (!miner_named || tx.sender != ToHex(h.miner)) {
        return state.Invalid(reject::kBadMiner, "genesis miner and tx sender must be named miners");
    }
    if (!CheckMinerSignature(block)) return state.Invalid(reject::kBadSig, "miner signature");
    if (MerkleRootOfTxs(block.txs) != h.merkle_root) {
        return state.Invalid(reject::kBadMerkle, "merkle root does not match the txs");
    }
    if (out != nullptr) *out = std::move(*info);
    return true;
}

}  // namespace fwchain::ledger
