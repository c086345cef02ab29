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
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/metrics.hpp"
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
    Expected<std::string> SubmitTx(const Tx& tx);

    // Validates a block and connects it (extending the tip or through a reorg to a heavier
    // branch) or stores it as a side block (info.main false). Errors carry the reject string
    // ("high-hash", "bad-prevblk", ...), "duplicate-block" (kConflict), "orphan" (kNotFound: the
    // parent is unknown, sync from the sender) or "reorg-too-deep" (kConflict); a database
    // failure is kDatabase.
    Expected<BlockInfo> SubmitBlock(const EncodedBlock& block, std::int64_t now);
    // Blocks of a sync stream, in order. Those extending the tip one after another are
    // validated as SubmitBlock would and written in one SQLite transaction, so the index pages
    // that many blocks touch are written once (each block's effects still land whole or not at
    // all); any other block goes through SubmitBlock. One result per block, up to and including
    // the first failure other than "duplicate-block".
    std::vector<Expected<BlockInfo>> SubmitBlocks(const std::vector<EncodedBlock>& blocks,
                                                  std::int64_t now);
    // A block built in process: encoded here, every tx signature checked.
    Expected<BlockInfo> SubmitBlock(const Block& block, std::int64_t now) {
        return SubmitBlock(EncodedBlock::Encode(block), now);
    }

    // A block on the tip for `miner` to solve: mempool txs (up to kMaxBlockTxs and the size
    // budget), Merkle root, required bits, timestamp max(now, MTP + 1). Nonce 0, unsigned.
    Expected<Block> BuildTemplate(const PublicKey& miner, std::int64_t now);

    // True while txs are pending or the newest release tx has fewer than
    // params.confirmations confirmations.
    Expected<bool> NeedsMining();

    Expected<BlockInfo> Tip();
    Expected<std::optional<TxStatus>> GetTx(const std::string& id);
    Expected<SearchPage> Search(const SearchQuery& q);
    Expected<StatusReport> FleetStatus(const std::string& product, std::size_t limit,
                                       const std::string& cursor);
    // Every release of `product` with its rollout's state (ledger/chain/rollouts.hpp).
    Expected<Json> Rollouts(const std::string& product, std::int64_t now);
    Expected<std::vector<KeyRecord>> Registry(const std::string& role_filter);
    Expected<std::optional<KeyRecord>> FindKey(const std::string& key_hex);
    // The last update/status counter of a device key that the next report must exceed: its
    // pending reports included (nullopt: none yet, or not a known key).
    Expected<std::optional<std::uint64_t>> LastNonce(const std::string& key_hex);
    Expected<std::optional<std::string>> BlockJson(const std::string& hash_hex);
    Expected<std::vector<BlockInfo>> Headers(std::uint64_t from, std::size_t count);
    Expected<std::optional<BlockInfo>> BlockInfoByHash(const std::string& hash_hex);
    Expected<std::optional<std::string>> BlockJsonAtHeight(std::uint64_t height);
    std::size_t MempoolSize();
    // Dashboard summaries (ChainStore::Products, Releases, Activity, TxCounts).
    Expected<std::vector<ProductSummary>> Products();
    Expected<std::vector<ReleaseSummary>> Releases(const std::string& product, std::size_t limit);
    Expected<ActivityCounts> Activity(const ActivityQuery& q);
    Expected<std::map<std::uint64_t, std::uint64_t>> TxCounts(std::uint64_t from, std::uint64_t to);
    Expected<std::vector<std::string>> BlockTxIds(std::uint64_t height);  // main chain
    // Storage mode and size (cheap: a stat and one meta read).
    Expected<StorageStatus> Storage();
    // With a budget: when the store is over it, drops the oldest prunable block bodies and tx
    // rows (a batch of heights per transaction, never within finality_depth of the tip) until it
    // is under it, then shrinks the file. Logs a warning and sets over_budget when what must be
    // kept does not fit. Without a budget it does nothing.
    Expected<StorageStatus> PruneIfNeeded();
    // Devices whose txs a pruned store keeps (the embedding program's own devices; persisted).
    Status KeepDevices(const std::vector<std::string>& device_ids);
    // The root currently authorising release/admission keys (genesis root or the newest root
    // tx on the main chain).
    Root CurrentRoot();

    // Bumped whenever the tip moves or a tx is queued; WaitForChange blocks until it differs
    // from `seen` or the timeout passes, and returns the current value.
    std::uint64_t Generation() const { return generation_.load(); }
    std::uint64_t WaitForChange(std::uint64_t seen, std::chrono::milliseconds timeout);
    // Wakes WaitForChange callers (e.g. a miner thread that is shutting down).
    void Interrupt() { Bump(); }
    // Called (outside the lock) after the tip moved, e.g. to abort a stale mining job.
    void SetTipListener(std::function<void()> fn);
    // Block outcomes and validation time go to `registry` (fwchain_ledger_block_*). Call
    // before the chain is shared between threads.
    void SetMetrics(metrics::Registry& registry);

  private:
    class StoreView;
    Chain() = default;
    Expected<BlockInfo> SubmitOne(const EncodedBlock& block, std::int64_t now);
    // Counts a submitted block's outcome; `seconds` is its share of the validation time.
    void Record(const Expected<BlockInfo>& outcome, double seconds);
    // Both need mu_ held.
    Expected<BlockContext> ContextFor(const BlockInfo& parent, std::int64_t now);
    // The ancestor of `b` (inclusive) at `height`, following prev links off the main chain.
    Expected<BlockInfo> AncestorAt(BlockInfo b, std::uint64_t height);
    Expected<BlockInfo> ConnectTip(const EncodedBlock& block, const BlockInfo& tip,
                                   std::int64_t now);
    // Inside a store transaction: validates `block` on `tip`, writes it, returns the new tip.
    Expected<BlockInfo> ExtendTip(const EncodedBlock& block, const BlockInfo& tip,
                                  std::int64_t now);
    Expected<BlockInfo> Reorg(const EncodedBlock& block, const BlockInfo& tip, std::int64_t now);
    Status ReloadRoot();
    // Revalidates `candidates` (abandoned txs first, then the old mempool) on the new tip.
    Status RebuildMempool(std::deque<MempoolEntry> candidates);
    void Bump();
    // Bump plus the tip listener; called without mu_ held.
    void NotifyTipMoved();

    std::mutex mu_;
    std::unique_ptr<ChainStore> store_;
    std::uint64_t prune_budget_ = 0;
    std::atomic<bool> over_budget_{false};
    std::mutex prune_mu_;  // one pruning pass at a time; guards the next member
    std::uint64_t prune_bytes_per_height_ = 0;  // what pruning one height freed, last measured
    std::unique_ptr<StoreView> view_;
    GenesisInfo genesis_;
    Root root_;  // current root; the StoreView points at it
    std::unique_ptr<Mempool> mempool_;
    std::unique_ptr<StateOverlay> mempool_state_;  // tip + mempool txs
    std::atomic<std::uint64_t> generation_{0};
    std::mutex wait_mu_;
    std::condition_variable change_cv_;
    std::mutex listener_mu_;
    std::function<void()> tip_listener_;
    metrics::Histogram* validation_seconds_ = nullptr;
    metrics::Counter* blocks_connected_ = nullptr;
    metrics::Counter* blocks_rejected_ = nullptr;
};

}  // namespace fwchain::ledger
