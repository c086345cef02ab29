#pragma once
// SQLite storage of the chain (DESIGN.md §5): blocks, an index of the txs of the main chain and
// the key registry. Everything a block adds is written in one transaction, so a crash leaves
// either the whole block or none of it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/adapters/sqlite.hpp"
#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "ledger/consensus/pow.hpp"
#include "ledger/consensus/validation.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

struct BlockInfo {
    Hash256 hash{};
    std::uint64_t height = 0;
    Hash256 prev{};
    std::int64_t time = 0;
    std::uint32_t bits = 0;
    Work work = 0;  // cumulative, genesis included
    std::array<std::uint8_t, kHeaderSize> header{};
    bool main = true;       // on the current best chain
    bool invalid = false;   // failed full validation when a reorg tried to connect it
    std::string miner_sig;  // hex, by header.miner over the header hash
};

struct TxRecord {
    std::string id;
    std::string block_hash;
    std::uint64_t height = 0;
    std::uint32_t index = 0;  // position in its block
    Json tx;
};

struct SearchQuery {
    std::string device;   // recipient of update/status txs
    std::string product;  // release recipient, body.product of update/admit/revoke/status
    std::string ver;
    std::string state;
    std::string type;
    std::optional<std::int64_t> since;  // tx time, inclusive
    std::optional<std::int64_t> until;  // tx time, inclusive
    std::size_t limit = 100;            // clamped to [1, 1000]
    std::string cursor;                 // opaque, from a previous page
};

struct SearchPage {
    std::vector<TxRecord> results;  // newest first
    std::optional<std::string> next_cursor;
};

inline constexpr std::size_t kMaxSearchLimit = 1000;

// GET /v1/status: the fleet of one product as the main chain records it.
struct DeviceVersion {
    std::string device;
    std::string ver;  // latest installed
    std::uint64_t height = 0;
    std::int64_t time = 0;
};
struct StatusReport {
    std::string product;
    std::uint64_t devices = 0;                      // devices with an installed report
    std::map<std::string, std::uint64_t> versions;  // latest installed version -> devices
    std::map<std::string, std::uint64_t> failures;  // version -> failed/rolled-back reports
    std::vector<DeviceVersion> latest;              // one page, by device id
    std::optional<std::string> next_cursor;         // device id to continue after
};

// Dashboard summaries (GET /v1/products, /v1/releases, /v1/activity; docs/protocol.md).
struct ProductSummary {
    std::string product;
    std::uint64_t releases = 0;  // release txs on the main chain
    std::uint64_t devices = 0;   // admitted, unrevoked device keys of the product
    std::string latest_version;  // of the newest release tx ("" when none)
    std::uint64_t latest_sequence = 0;
};
struct ReleaseSummary {
    std::string id;  // the release tx
    std::string version;
    std::uint64_t sequence = 0;
    std::uint64_t height = 0;
    std::string block_hash;
    std::int64_t time = 0;  // the release tx's time
    // Update state -> distinct devices whose update tx names this release's sequence.
    std::map<std::string, std::uint64_t> outcomes;
};
struct ActivityQuery {
    std::string product;  // "" = every product
    std::int64_t since = 0;
    std::int64_t bucket = 3600;  // seconds
    std::size_t buckets = 24;    // [since, since + buckets * bucket)
};
// Per bucket (index from `since`), update state -> update txs whose time falls in it.
using ActivityCounts = std::map<std::size_t, std::map<std::string, std::uint64_t>>;

// Pruned storage (docs/architecture.md "Pruned nodes"). A pruned store keeps every header, the
// registry, claims and roots, every release/approve/rollout/root tx, the txs of its own devices
// (kept_devices), a compact copy of every device outcome report (rollout halts) and the bodies of
// the blocks above prune_height; it drops the other block bodies and tx rows.
struct PruneInfo {
    bool pruned = false;             // meta 'pruned': opened with a byte budget at least once
    std::uint64_t prune_height = 0;  // bodies of heights 1..prune_height are gone (0 = none)
};
// The tx types every node keeps: vendor and operator evidence, few and needed for rollouts and
// for device ledger proofs.
inline constexpr const char* kKeptTxTypesSql =
    "('genesis', 'release', 'approve', 'rollout', 'root')";

// The store's schema migrations, in order (tests build stores of earlier schemas with them).
const std::vector<std::string>& StoreMigrations();
// The schema before compact storage: blocks.json and txs.json held the canonical texts.
inline constexpr std::size_t kSchemaBeforeCompact = 7;

class ChainStore {
  public:
    // Opens (creating) the database and applies the schema migrations. `prunable` (a node with
    // a byte budget) switches the file to incremental vacuum (a one-time VACUUM when it was not)
    // and records in meta that the store is pruned.
    static Expected<std::unique_ptr<ChainStore>> Open(const std::string& path,
                                                      bool prunable = false);
    // A second connection to a store that Open has created and migrated, for reads only
    // (PRAGMA query_only): with WAL it reads the last committed state while the writer works.
    static Expected<std::unique_ptr<ChainStore>> OpenReader(const std::string& path);
    // Runs fn in one read transaction: the reads in it see one committed state.
    Status ReadTransaction(const std::function<Status()>& fn);

    Expected<PruneInfo> Pruning();
    // Drops the bodies and prunable tx rows of the main-chain heights (prune_height, to], in one
    // transaction: compact outcome rows and Merkle proofs of the kept txs are written first. The
    // caller keeps `to` at least finality_depth below the tip.
    Status PruneThrough(std::uint64_t to);
    // Returns freed pages to the file system (incremental vacuum) and truncates the WAL.
    Status Shrink();
    // Rewrites the file compactly (VACUUM): what deleted rows left in partly filled pages too.
    // Needs room for a second copy while it runs (in the WAL).
    Status Compact();
    // Bytes of the database file plus its WAL, as on disk.
    std::uint64_t FileBytes() const;
    // Bytes of the pages in use (what FileBytes becomes after Shrink).
    Expected<std::uint64_t> LiveBytes();
    // Devices whose txs a pruned store keeps (the embedding program's own devices).
    Status KeepDevices(const std::vector<std::string>& device_ids);
    Expected<std::uint64_t> KeptDeviceCount();
    // The Merkle proof stored for a kept tx of a pruned block (JSON), if any.
    Expected<std::optional<Json>> StoredProof(const std::string& tx_id);

    // The genesis hash recorded on first start, if any.
    Expected<std::optional<std::string>> GenesisHash();
    // Stores block 0 and what it establishes (the genesis miners).
    Status StoreGenesis(const EncodedBlock& genesis, const StateOverlay& added);
    // Appends a validated block on top of the tip with everything it adds (txs, registry
    // changes), in one transaction. `work` is the new cumulative work.
    Status ConnectBlock(const EncodedBlock& block, const StateOverlay& added, Work work);
    // Stores a block of a side branch (header-checked, not connected: no txs, no state).
    Status StoreSideBlock(const EncodedBlock& block, Work work);
    // Runs fn in one write transaction: a reorg (disconnects + connects) commits as a whole.
    Status Transaction(const std::function<Status()>& fn);
    // Inside Transaction: connects `block` (stored as a side block or new) on top of the tip.
    Status ConnectInTransaction(const EncodedBlock& block, const StateOverlay& added, Work work);
    // Inside Transaction: undoes the tip block (txs, registry changes, roots) and moves the tip
    // to its parent. Returns the disconnected block. The genesis cannot be disconnected.
    Expected<Block> DisconnectTip();
    Status MarkInvalid(const std::string& hash_hex);
    // The newest root installed by a root tx on the main chain (envelope json), if any.
    Expected<std::optional<std::string>> LatestRootJson();
    // Main-chain block json at `height`, for export and verify ("pruned" as BlockJson).
    Expected<std::optional<std::string>> BlockJsonAtHeight(std::uint64_t height);

    Expected<std::optional<BlockInfo>> Tip();
    Expected<std::optional<BlockInfo>> BlockByHash(const std::string& hash_hex);
    Expected<std::optional<BlockInfo>> BlockAtHeight(std::uint64_t height);  // main chain
    // A block whose body was pruned is an error with reason "pruned" (kNotFound).
    Expected<std::optional<std::string>> BlockJson(const std::string& hash_hex);
    // Main-chain headers from `from`, at most `count`.
    Expected<std::vector<BlockInfo>> Headers(std::uint64_t from, std::size_t count);
    // Timestamps of the main-chain blocks (max(0, height-n+1) .. height], oldest first.
    Expected<std::vector<std::int64_t>> TimesUpTo(std::uint64_t height, std::size_t n);

    Expected<std::optional<TxRecord>> FindTx(const std::string& id);
    Expected<bool> HasTx(const std::string& id);
    // The main-chain tx holding a uniqueness claim (consensus UniqueClaim), if any.
    Expected<std::optional<std::string>> ClaimedBy(const std::string& claim);
    // Ids of the txs of the main-chain block at `height`, in block order.
    Expected<std::vector<std::string>> BlockTxIds(std::uint64_t height);
    Expected<SearchPage> Search(const SearchQuery& q);
    // Latest installed version per device of `product` (a page of `limit` devices after
    // `cursor`), counts per version and failures.
    Expected<StatusReport> FleetStatus(const std::string& product, std::size_t limit,
                                       const std::string& cursor);
    // Height of the newest release tx on the main chain.
    Expected<std::optional<std::uint64_t>> LatestReleaseHeight();

    // Rollout evidence (docs/rollouts.md), all in chain order.
    struct ReleaseTx {
        std::string id;
        std::string version;
        std::uint64_t height = 0;
        std::int64_t time = 0;
        std::string json;  // the tx
    };
    Expected<std::vector<ReleaseTx>> ReleasesOf(const std::string& product);
    // The txs of `type` addressed to `recipient` (approvals and rollout controls name a
    // release tx), in chain order.
    struct TxTo {
        std::string id;
        std::string sender;
        std::string state;
    };
    Expected<std::vector<TxTo>> TxsTo(const std::string& recipient, const std::string& type);
    struct Outcome {
        std::string device;
        std::string state;  // installed | failed | rolled-back
        std::uint64_t sequence = 0;
        std::uint64_t previous_sequence = 0;
        bool rejected = false;  // a failed report about a manifest that did not verify
    };
    // Every device outcome report of `product`.
    Status ForEachOutcome(const std::string& product,
                          const std::function<void(const Outcome&)>& fn);
    // Ids of the admitted, unrevoked devices of `product`.
    Expected<std::vector<std::string>> DevicesOf(const std::string& product);

    Expected<std::optional<KeyRecord>> FindKey(const std::string& key_hex);
    // Set-at-a-time forms for connecting a block (a few `IN (...)` queries for a whole block):
    // each distinct key with its record (nullopt: not in the registry), and which of `ids` (tx
    // ids, hex) are main-chain txs.
    Expected<std::vector<std::pair<std::string, std::optional<KeyRecord>>>> FindKeys(
        const std::vector<std::string>& keys_hex);
    Expected<std::set<std::string>> ExistingTxs(const std::vector<std::string>& ids);
    // Registry keys, optionally of one role, ordered by admission height.
    Expected<std::vector<KeyRecord>> Registry(const std::string& role_filter);

    // Every product named by a release tx or an admitted device key, by name.
    Expected<std::vector<ProductSummary>> Products();
    // The newest `limit` release txs of `product` with their update outcomes, newest first.
    Expected<std::vector<ReleaseSummary>> Releases(const std::string& product, std::size_t limit);
    Expected<ActivityCounts> Activity(const ActivityQuery& q);
    // Main-chain height -> number of txs, for heights in [from, to].
    Expected<std::map<std::uint64_t, std::uint64_t>> TxCounts(std::uint64_t from, std::uint64_t to);

    // Keeps the undo records of the newest `blocks` main-chain blocks only (0, the default: all).
    // A reorg deeper than finality_depth is refused, so older undo records are never read; the
    // chain sets finality_depth + 1. Drops the older ones already stored.
    Status KeepUndoFor(std::uint64_t blocks);

    // Fault injection for tests: called inside the write transaction after each block is
    // written (connect or store of genesis), with its height. nullptr (the default) = none.
    static void SetAfterBlockWrittenForTest(void (*hook)(std::uint64_t height));

  private:
    ChainStore(sql::Db db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
    // The blocks row of a main-chain (main) or side block.
    Status InsertBlockRow(const EncodedBlock& block, Work work, bool main);
    Status WriteBlock(const EncodedBlock& block, const StateOverlay& added, Work work,
                      bool insert_row);
    // db_.WriteTransaction, forgetting the verifier references it may have made on a rollback.
    Status Write(const std::function<Status()>& fn);
    // The rowid of registry key `key_hex` (`changed`: the rows this block wrote), if any.
    Expected<std::optional<std::int64_t>> KeyRowOf(
        const std::string& key_hex, const std::unordered_map<std::string, std::int64_t>& changed);
    // The `verifiers` row of an image hash (hex), added if new.
    Expected<std::int64_t> VerifierRef(const std::string& hash_hex);
    // Drops the undo records of main-chain blocks up to `height`.
    Status TrimUndoThrough(std::uint64_t height);
    // The lowest height whose undo record may still exist (meta `undo_trimmed`; 0: all).
    Expected<std::uint64_t> UndoKeptFrom();
    // The main-chain block at `height` and its canonical JSON, rebuilt from its row and txs
    // (error "pruned" when its body is gone).
    Expected<std::optional<std::pair<Block, std::string>>> LoadMainBlock(std::uint64_t height);
    sql::Db db_;
    std::string path_;
    std::uint64_t undo_blocks_ = 0;
    // Recently used `verifiers` rows (image hash hex -> ref), bounded; cleared on a rollback.
    std::unordered_map<std::string, std::int64_t> verifier_refs_;
};

}  // namespace fwchain::ledger
