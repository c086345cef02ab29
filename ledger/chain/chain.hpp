#pragma once
// The node's chain: the store, the mempool and the consensus rules behind one lock. Fork choice
// by most cumulative work: a block on another branch is header-checked and stored as a side
// block; when its branch becomes heavier than the tip, the node disconnects back to the fork
// point and connects the branch with full validation, all in one SQLite transaction (a crash or
// an invalid block leaves the old chain intact). Reorgs deeper than finality_depth are refused.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/metrics.hpp"
#include "common/core/mutex.hpp"
#include "ledger/chain/mempool.hpp"
#include "ledger/chain/store.hpp"
#include "ledger/client/client.hpp"
#include "ledger/consensus/validation.hpp"

namespace fwchain::ledger {

struct ChainOptions {
    std::string db_path;
    Hash256 genesis_hash{};
    Block genesis;  // must hash to genesis_hash
    std::size_t mempool_max = 10000;
    // Pruned node (docs/architecture.md "Pruned nodes"): keep the store (database + WAL) under
    // this many bytes by dropping old block bodies and other devices' txs. 0 = archival.
    std::uint64_t prune_budget = 0;
    // Read connections: searches, status, proofs, headers and the dashboard read the last
    // committed state on these instead of waiting for the chain lock (none for ":memory:").
    std::size_t readers = 2;
};

// What GET /v1/health and /v1/tip say about the node's storage.
struct StorageStatus {
    bool pruned = false;
    std::uint64_t prune_height = 0;  // bodies of heights 1..prune_height are not held
    std::uint64_t store_bytes = 0;   // database + WAL on disk
    std::uint64_t budget = 0;        // 0 = none (archival, or a pruned store opened without one)
    bool over_budget = false;        // what must be kept needs more than the budget
    std::uint64_t kept_devices = 0;  // devices whose txs are kept (KeepDevices)
};

// A tx as the API shows it: on chain (with block and Merkle proof) or pending.
using TxStatus = TxView;

class Chain {
  public:
    // Opens or creates the store. The genesis block is validated and stored on first start; a
    // store that holds a different genesis is refused (reason "genesis-mismatch").
    static Expected<std::unique_ptr<Chain>> Open(const ChainOptions& opts);
    ~Chain();

    const GenesisInfo& Genesis() const { return genesis_; }
    const ChainParams& Params() const { return genesis_.params; }

    // Validates against the tip plus the mempool and queues it. Returns the tx id. Errors carry
    // the reject string as reason: "duplicate-tx" and "replayed-nonce" (kConflict),
    // "unauthorized-tx" (kUnauthorized), "bad-tx" (kInvalid), "mempool-full" (kTooLarge).
    Expected<std::string> SubmitTx(const Tx& tx) FW_EXCLUDES(mu_);

    // Validates a block and connects it (extending the tip or through a reorg to a heavier
    // branch) or stores it as a side block (info.main false). Errors carry the reject string
    // ("high-hash", "bad-prevblk", ...), "duplicate-block" (kConflict), "orphan" (kNotFound: the
    // parent is unknown, sync from the sender) or "reorg-too-deep" (kConflict); a database
    // failure is kDatabase.
    Expected<BlockInfo> SubmitBlock(const EncodedBlock& block, std::int64_t now) FW_EXCLUDES(mu_);
    // Blocks of a sync stream, in order. Those extending the tip one after another are
    // validated as SubmitBlock would and written in one SQLite transaction, so the index pages
    // that many blocks touch are written once (each block's effects still land whole or not at
    // all); any other block goes through SubmitBlock. One result per block, up to and including
    // the first failure other than "duplicate-block".
    std::vector<Expected<BlockInfo>> SubmitBlocks(const std::vector<EncodedBlock>& blocks,
                                                  std::int64_t now) FW_EXCLUDES(mu_);
    // A block built in process: encoded here, every tx signature checked.
    Expected<BlockInfo> SubmitBlock(const Block& block, std::int64_t now) {
        return SubmitBlock(EncodedBlock::Encode(block), now);
    }

    // A block on the tip for `miner` to solve: mempool txs (up to kMaxBlockTxs and the size
    // budget), Merkle root, required bits, timestamp max(now, MTP + 1). Nonce 0, unsigned.
    Expected<Block> BuildTemplate(const PublicKey& miner, std::int64_t now) FW_EXCLUDES(mu_);

    // True while txs are pending or the newest release tx has fewer than
    // params.confirmations confirmations.
    Expected<bool> NeedsMining() FW_EXCLUDES(mu_);

    Expected<BlockInfo> Tip() FW_EXCLUDES(mu_);
    Expected<std::optional<TxStatus>> GetTx(const std::string& id) FW_EXCLUDES(mu_);
    Expected<SearchPage> Search(const SearchQuery& q) FW_EXCLUDES(mu_);
    Expected<StatusReport> FleetStatus(const std::string& product, std::size_t limit,
                                       const std::string& cursor) FW_EXCLUDES(mu_);
    // Every release of `product` with its rollout's state (ledger/chain/rollouts.hpp).
    Expected<Json> Rollouts(const std::string& product, std::int64_t now) FW_EXCLUDES(mu_);
    Expected<std::vector<KeyRecord>> Registry(const std::string& role_filter) FW_EXCLUDES(mu_);
    Expected<std::optional<KeyRecord>> FindKey(const std::string& key_hex) FW_EXCLUDES(mu_);
    // The last update/status counter of a device key that the next report must exceed: its
    // pending reports included (nullopt: none yet, or not a known key).
    Expected<std::optional<std::uint64_t>> LastNonce(const std::string& key_hex) FW_EXCLUDES(mu_);
    Expected<std::optional<std::string>> BlockJson(const std::string& hash_hex) FW_EXCLUDES(mu_);
    Expected<std::vector<BlockInfo>> Headers(std::uint64_t from, std::size_t count)
        FW_EXCLUDES(mu_);
    Expected<std::optional<BlockInfo>> BlockInfoByHash(const std::string& hash_hex)
        FW_EXCLUDES(mu_);
    Expected<std::optional<std::string>> BlockJsonAtHeight(std::uint64_t height) FW_EXCLUDES(mu_);
    std::size_t MempoolSize() FW_EXCLUDES(mu_);
    // Dashboard summaries (ChainStore::Products, Releases, Activity, TxCounts).
    Expected<std::vector<ProductSummary>> Products() FW_EXCLUDES(mu_);
    Expected<std::vector<ReleaseSummary>> Releases(const std::string& product, std::size_t limit)
        FW_EXCLUDES(mu_);
    Expected<ActivityCounts> Activity(const ActivityQuery& q) FW_EXCLUDES(mu_);
    Expected<std::map<std::uint64_t, std::uint64_t>> TxCounts(std::uint64_t from, std::uint64_t to)
        FW_EXCLUDES(mu_);
    // Ids of the txs of the main-chain block at `height`.
    Expected<std::vector<std::string>> BlockTxIds(std::uint64_t height) FW_EXCLUDES(mu_);
    // Storage mode and size (cheap: a stat and one meta read).
    Expected<StorageStatus> Storage() FW_EXCLUDES(mu_);
    // With a budget: when the store is over it, drops the oldest prunable block bodies and tx
    // rows (a batch of heights per transaction, never within finality_depth of the tip) until it
    // is under it, then shrinks the file. Logs a warning and sets over_budget when what must be
    // kept does not fit. Without a budget it does nothing.
    Expected<StorageStatus> PruneIfNeeded() FW_EXCLUDES(mu_);
    // Devices whose txs a pruned store keeps (the embedding program's own devices; persisted).
    Status KeepDevices(const std::vector<std::string>& device_ids) FW_EXCLUDES(mu_);
    // The root currently authorising release/admission keys (genesis root or the newest root
    // tx on the main chain).
    Root CurrentRoot() FW_EXCLUDES(mu_);

    // Bumped whenever the tip moves or a tx is queued; WaitForChange blocks until it differs
    // from `seen` or the timeout passes, and returns the current value.
    std::uint64_t Generation() const { return generation_.load(); }
    std::uint64_t WaitForChange(std::uint64_t seen, std::chrono::milliseconds timeout)
        FW_EXCLUDES(wait_mu_);
    // Wakes WaitForChange callers (e.g. a miner thread that is shutting down).
    void Interrupt() { Bump(); }
    // Called (outside the lock) after the tip moved, e.g. to abort a stale mining job.
    void SetTipListener(std::function<void()> fn);
    // Block outcomes and validation time go to `registry` (fwchain_ledger_block_*). Call
    // before the chain is shared between threads.
    void SetMetrics(metrics::Registry& registry);

  private:
    class StoreView;
    struct Reader;
    // Runs fn(ChainStore&) on a reader connection in one read transaction (on the writer's
    // connection under mu_ when there is none) and returns what it returns.
    template <typename T, typename F>
    Expected<T> Read(F&& fn) FW_EXCLUDES(mu_);
    Chain() = default;
    Expected<BlockInfo> SubmitOne(const EncodedBlock& block, std::int64_t now) FW_EXCLUDES(mu_);
    // Counts a submitted block's outcome; `seconds` is its share of the validation time.
    void Record(const Expected<BlockInfo>& outcome, double seconds);
    // The FW_REQUIRES(mu_) helpers run with the chain lock held.
    Expected<BlockContext> ContextFor(const BlockInfo& parent, std::int64_t now) FW_REQUIRES(mu_);
    // The ancestor of `b` (inclusive) at `height`, following prev links off the main chain.
    Expected<BlockInfo> AncestorAt(BlockInfo b, std::uint64_t height) FW_REQUIRES(mu_);
    Expected<BlockInfo> ConnectTip(const EncodedBlock& block, const BlockInfo& tip,
                                   std::int64_t now) FW_REQUIRES(mu_);
    // Inside a store transaction: validates `block` on `tip`, writes it, returns the new tip.
    Expected<BlockInfo> ExtendTip(const EncodedBlock& block, const BlockInfo& tip, std::int64_t now)
        FW_REQUIRES(mu_);
    Expected<BlockInfo> Reorg(const EncodedBlock& block, const BlockInfo& tip, std::int64_t now)
        FW_REQUIRES(mu_);
    Status ReloadRoot() FW_REQUIRES(mu_);
    // Revalidates `candidates` (abandoned txs first, then the old mempool) on the new tip.
    Status RebuildMempool(std::deque<MempoolEntry> candidates) FW_REQUIRES(mu_);
    void Bump();
    // Bump plus the tip listener; called without mu_ held.
    void NotifyTipMoved();

    // Lock order: prune_mu_ before mu_; wait_mu_ and listener_mu_ are taken alone.
    Mutex prune_mu_ FW_ACQUIRED_BEFORE(mu_);  // one pruning pass at a time
    Mutex mu_;
    std::unique_ptr<ChainStore> store_ FW_PT_GUARDED_BY(mu_);
    std::uint64_t prune_budget_ = 0;  // set by Open
    std::atomic<bool> over_budget_{false};
    // What pruning one height freed, last measured.
    std::uint64_t prune_bytes_per_height_ FW_GUARDED_BY(prune_mu_) = 0;
    std::unique_ptr<StoreView> view_ FW_PT_GUARDED_BY(mu_);
    GenesisInfo genesis_;           // set by Open
    Root root_ FW_GUARDED_BY(mu_);  // current root; the StoreView points at it
    std::unique_ptr<Mempool> mempool_ FW_PT_GUARDED_BY(mu_);
    std::unique_ptr<StateOverlay> mempool_state_ FW_PT_GUARDED_BY(mu_);  // tip + mempool txs
    std::atomic<std::uint64_t> generation_{0};
    std::vector<std::unique_ptr<Reader>> readers_;  // fixed by Open
    std::atomic<std::size_t> next_reader_{0};
    Mutex wait_mu_;
    std::condition_variable change_cv_;
    Mutex listener_mu_;
    std::function<void()> tip_listener_ FW_GUARDED_BY(listener_mu_);
    metrics::Histogram* validation_seconds_ = nullptr;
    metrics::Counter* blocks_connected_ = nullptr;
    metrics::Counter* blocks_rejected_ = nullptr;
};

}  // namespace fwchain::ledger
