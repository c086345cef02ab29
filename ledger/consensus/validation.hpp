#pragma once
// Block and transaction validity (DESIGN.md §5), as pure functions over a chain-state view.
// Untrusted input gets a reject string like Bitcoin's BlockValidationState ("high-hash",
// "bad-merkle", ...), so a caller can tell a peer sending garbage from a local failure
// (a view that could not read its database reports an error, not an invalid block).
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

namespace reject {
inline constexpr const char* kHighHash = "high-hash";
inline constexpr const char* kBadMerkle = "bad-merkle";
inline constexpr const char* kBadMiner = "bad-miner";
inline constexpr const char* kBadSig = "bad-sig";
inline constexpr const char* kBadPrevBlk = "bad-prevblk";
inline constexpr const char* kBadHeight = "bad-height";
inline constexpr const char* kBadVersion = "bad-version";
inline constexpr const char* kTimeTooOld = "time-too-old";
inline constexpr const char* kTimeTooNew = "time-too-new";
inline constexpr const char* kBadBits = "bad-bits";
inline constexpr const char* kBadLength = "bad-blk-length";
inline constexpr const char* kBadGenesis = "bad-genesis";
inline constexpr const char* kBadTx = "bad-tx";
inline constexpr const char* kDuplicateTx = "duplicate-tx";
inline constexpr const char* kUnauthorizedTx = "unauthorized-tx";
// An update/status counter not above the device's last one: a replayed report.
inline constexpr const char* kReplayedNonce = "replayed-nonce";
// A second release of one (product, sequence), even if signed again (another tx id).
inline constexpr const char* kDuplicateRelease = "duplicate-release";
// A second approval of one release by one approver key.
inline constexpr const char* kDuplicateApproval = "duplicate-approval";
}  // namespace reject

// Root rotation (docs/protocol.md "Root rotation on the ledger"). Not in common's txtype list:
// only the ledger and the vendor server that submits it know this type.
inline constexpr const char* kRootTxType = "root";

class ValidationState {
  public:
    enum class Mode { kValid, kInvalid, kError };

    // Marks the input invalid; returns false so checks can `return state.Invalid(...)`.
    bool Invalid(std::string reject_reason, std::string debug = "");
    // A local failure (database) while validating: the input may be fine.
    bool SetError(Error e);

    bool IsValid() const { return mode_ == Mode::kValid; }
    bool IsInvalid() const { return mode_ == Mode::kInvalid; }
    bool IsError() const { return mode_ == Mode::kError; }
    const std::string& RejectReason() const { return reject_; }
    const std::string& Debug() const { return debug_; }
    // Error with reason = reject string; code kConflict for duplicates and replays,
    // kUnauthorized for unauthorised txs and miners, kVerify/kInvalid otherwise.
    Error ToError() const;
    std::string ToString() const;

  private:
    Mode mode_ = Mode::kValid;
    std::string reject_;
    std::string debug_;
    Error error_;
};

namespace role {
inline constexpr const char* kMiner = "miner";  // named by the genesis block
inline constexpr const char* kGateway = "gateway";
inline constexpr const char* kDevice = "device";
}  // namespace role

// One key of the on-chain registry (admitted by genesis or an admit tx).
struct KeyRecord {
    std::string key;      // public key hex
    std::string subject;  // device id or gateway name (the admit tx's recipient)
    std::string role;     // miner | gateway | device
    std::string product;
    std::uint64_t height = 0;
    bool revoked = false;
    std::uint64_t revoked_height = 0;
    std::optional<std::uint64_t> last_nonce;  // devices: last accepted update/status counter

    bool CanMine() const { return !revoked && (role == role::kMiner || role == role::kGateway); }
};

// What a tx claims once for the whole chain, if its type has such a rule: a release claims
// "release/<product>/<sequence>" (one signed release per sequence, however often it is signed or
// re-posted), an approve "approve/<release tx id>/<approver key>". Admit, revoke and root txs
// are unique through the registry (a key is admitted once, revoked once) and the root version
// (exactly current + 1); update/status through the device counter.
std::optional<std::string> UniqueClaim(const Tx& tx);

// The chain state validation reads: the registry, which txs exist, the current root.
class ChainView {
  public:
    virtual ~ChainView() = default;
    virtual Expected<std::optional<KeyRecord>> FindKey(const std::string& key_hex) const = 0;
    virtual Expected<bool> HasTx(const std::string& id) const = 0;
    // The id of the tx that holds `claim` (see UniqueClaim), if any.
    virtual Expected<std::optional<std::string>> ClaimedBy(const std::string& claim) const = 0;
    // The root metadata that authorises release/admission/approver keys.
    virtual const Root& CurrentRoot() const = 0;
};

// The state after some txs on top of a base view: used for the txs of one block (a device can be
// admitted and report in the same block) and for the mempool. Records exactly what a block adds,
// so the store can write it in one transaction.
class StateOverlay final : public ChainView {
  public:
    explicit StateOverlay(const ChainView& base) : base_(&base) {}

    Expected<std::optional<KeyRecord>> FindKey(const std::string& key_hex) const override;
    Expected<bool> HasTx(const std::string& id) const override;
    Expected<std::optional<std::string>> ClaimedBy(const std::string& claim) const override;
    // A root tx earlier in the same block (or mempool) rotates the root for the txs after it.
    const Root& CurrentRoot() const override {
        return roots_.empty() ? base_->CurrentRoot() : roots_.back();
    }

    // Records the effects of an already-authorised tx at `height`.
    Status Apply(const Tx& tx, const std::string& tx_id, std::uint64_t height);
    // Registers the genesis miners.
    void AddMiners(const GenesisInfo& genesis, std::uint64_t height);

    // Set-at-a-time reads (docs/architecture.md "Connecting a block"): what the base view
    // holds for every key and tx id a block names, read by the caller in a few queries before
    // the block is validated, so validating it asks the base nothing per tx. `keys`: each key
    // read with its record (nullopt: not in the registry); `tx_ids`: ids looked up, `present`:
    // those of them the base holds. The base must not change meanwhile.
    void PrimeKeys(std::vector<std::pair<std::string, std::optional<KeyRecord>>> keys);
    void PrimeTxs(const std::vector<std::string>& tx_ids, const std::set<std::string>& present);

    const std::map<std::string, KeyRecord>& ChangedKeys() const { return keys_; }
    // The base view's record of a key as this overlay read it (nullopt inside: not in the
    // registry), or nullptr if it never read it. The base must not change meanwhile.
    const std::optional<KeyRecord>* BaseKey(const std::string& key_hex) const;
    const std::set<std::string>& AddedTxs() const { return tx_ids_; }
    // Claims made by the added txs: claim -> tx id.
    const std::map<std::string, std::string>& AddedClaims() const { return claims_; }
    // Roots installed by root txs, in order.
    const std::vector<Root>& AddedRoots() const { return roots_; }

  private:
    const ChainView* base_;
    std::vector<Root> roots_;
    std::map<std::string, KeyRecord> keys_;
    // Registry records read from the base, kept: a block's txs and its undo data need them again.
    mutable std::map<std::string, std::optional<KeyRecord>> base_keys_;
    std::set<std::string> tx_ids_;
    // Whether the base holds a tx id, read ahead by PrimeTxs.
    std::unordered_map<std::string, bool> base_txs_;
    std::map<std::string, std::string> claims_;
};

// Context-free checks of one tx: known type, per-type fields. `check_signature` re-verifies the
// signature (ParseTx already does for txs read from JSON).
bool CheckTxShape(const Tx& tx, ValidationState& state, bool check_signature = true);

// Whether `tx` may enter the chain at `height` on top of `view`: shape, not already in the chain,
// and authorised for its type:
//   genesis         only in block 0
//   release         sender is a release key of the current root; no other release of the same
//                   (product, sequence) on the chain
//   approve         sender is an approver key; one approval per (release, approver)
//   admit / revoke  sender is an admission key; admit needs a fresh key, revoke an admitted one
//   update / status sender is an admitted, unrevoked device key whose admit recipient equals
//                   the tx recipient, and nonce is above the device's last one
//   root            sender is a root key of the current root; body.root is root version+1,
//                   signed TUF-style by the old and new root keys; ver and verifier name it
bool CheckTxForChain(const Tx& tx, const std::string& tx_id, std::uint64_t height,
                     const ChainView& view, ValidationState& state, bool check_signature = true);

// What the chain knows about the block's parent, computed by the caller.
struct BlockContext {
    Hash256 prev_hash{};
    std::uint64_t prev_height = 0;
    std::uint32_t required_bits = 0;  // NextBits for this height
    std::int64_t median_time_past = 0;
    std::int64_t now = 0;  // the validating node's clock
};

// Header rules: version, prev link, height, bits, proof of work, time window.
bool CheckBlockHeader(const BlockHeader& header, const BlockContext& ctx, const ChainParams& params,
                      ValidationState& state);

// What can be checked without the chain state at the parent (used to admit side-branch blocks
// before a reorg makes them current): header rules, miner signature, size, Merkle root, no
// duplicate ids inside the block, every tx's shape, and each tx signature unless
// EncodedBlock::Parse verified them already.
bool CheckBlockContextFree(const EncodedBlock& block, const BlockContext& ctx,
                           const ChainParams& params, ValidationState& state);

// The whole block against its parent: CheckBlockContextFree, the miner admitted, each tx
// authorised. On success `overlay` holds what the block adds.
bool ValidateBlock(const EncodedBlock& block, const BlockContext& ctx, const ChainParams& params,
                   StateOverlay& overlay, ValidationState& state);

// Block 0: its hash is the configured genesis hash, prev is zero, it holds exactly one genesis
// tx whose root and params parse, it is mined at initial_bits by one of the named miners, who
// signed it. Fills `out` on success.
bool ValidateGenesisBlock(const Block& block, const Hash256& expected_hash, ValidationState& state,
                          GenesisInfo* out);

// Checks the miner signature over the header hash.
bool CheckMinerSignature(const Block& block);

}  // namespace fwchain::ledger
