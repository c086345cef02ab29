#include "ledger/chain/chain.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <thread>

#include "ledger/chain/rollouts.hpp"
#include "ledger/primitives/merkle.hpp"

namespace fwchain::ledger {

namespace {
// Room left in a block for the header, signature and JSON framing around the txs.
constexpr std::size_t kBlockOverhead = 64 * 1024;
// Heights pruned per SQLite transaction: the chain lock is released between batches.
constexpr std::uint64_t kPruneBatch = 64;
}  // namespace

// The registry and tx index of the stored main chain, as consensus sees it.
class Chain::StoreView final : public ChainView {
  public:
    StoreView(ChainStore* store, const Root* root) : store_(store), root_(root) {}
    Expected<std::optional<KeyRecord>> FindKey(const std::string& key_hex) const override {
        return store_->FindKey(key_hex);
    }
    Expected<bool> HasTx(const std::string& id) const override { return store_->HasTx(id); }
    Expected<std::optional<std::string>> ClaimedBy(const std::string& claim) const override {
        return store_->ClaimedBy(claim);
    }
    const Root& CurrentRoot() const override { return *root_; }

  private:
    ChainStore* store_;
    const Root* root_;
};

struct Chain::Reader {
    Mutex mu;
    std::unique_ptr<ChainStore> store FW_PT_GUARDED_BY(mu);
};

Chain::~Chain() = default;

template <typename T, typename F>
Expected<T> Chain::Read(F&& fn) {
    std::optional<T> out;
    auto run = [&](ChainStore& store) {
        return store.ReadTransaction([&]() -> Status {
            FW_ASSIGN(T v, fn(store));
            out.emplace(std::move(v));
            return {};
        });
    };
    if (readers_.empty()) {
        MutexLock lock(mu_);
        FW_TRY(run(*store_));
        return std::move(*out);
    }
    Reader& r = *readers_[next_reader_.fetch_add(1) % readers_.size()];
    MutexLock lock(r.mu);
    FW_TRY(run(*r.store));
    return std::move(*out);
}

Expected<std::unique_ptr<Chain>> Chain::Open(const ChainOptions& opts) {
    ValidationState state;
    GenesisInfo info;
    if (!ValidateGenesisBlock(opts.genesis, opts.genesis_hash, state, &info)) {
        return Fail(Errc::kVerify, "bad-genesis", "genesis block: " + state.ToString());
    }
    std::unique_ptr<Chain> chain(new Chain());
    MutexLock lock(chain->mu_);  // not shared yet; taken so that the analysis sees it held
    chain->genesis_ = std::move(info);
    chain->root_ = chain->genesis_.root;
    FW_ASSIGN(chain->store_, ChainStore::Open(opts.db_path, opts.prune_budget > 0));
    chain->prune_budget_ = opts.prune_budget;
    chain->view_ = std::make_unique<StoreView>(chain->store_.get(), &chain->root_);

    const std::string want = ToHex(opts.genesis_hash);
    FW_ASSIGN(auto stored, chain->store_->GenesisHash());
    if (stored && *stored != want) {
        return Fail(Errc::kConflict, "genesis-mismatch",
                    opts.db_path + " holds the chain of genesis " + *stored + ", not " + want);
    }
    if (!stored) {
        StateOverlay added(*chain->view_);
        added.AddMiners(chain->genesis_, 0);
        const EncodedBlock genesis = EncodedBlock::Encode(opts.genesis);
        FW_TRY(added.Apply(opts.genesis.txs[0], genesis.tx_ids()[0], 0));
        FW_TRY(chain->store_->StoreGenesis(genesis, added));
    }
    // A reorg deeper than finality_depth is refused: older undo records are never read.
    FW_TRY(chain->store_->KeepUndoFor(chain->genesis_.params.finality_depth + 1));
    FW_TRY(chain->ReloadRoot());
    if (opts.db_path != ":memory:") {
        for (std::size_t i = 0; i < opts.readers; ++i) {
            auto reader = std::make_unique<Reader>();
            MutexLock reader_lock(reader->mu);
            FW_ASSIGN(reader->store, ChainStore::OpenReader(opts.db_path));
            chain->readers_.push_back(std::move(reader));
        }
    }
    chain->mempool_ = std::make_unique<Mempool>(opts.mempool_max);
    chain->mempool_state_ = std::make_unique<StateOverlay>(*chain->view_);
    return chain;
}

Status Chain::ReloadRoot() {
    FW_ASSIGN(auto json, store_->LatestRootJson());
    if (!json) {
        root_ = genesis_.root;
        return {};
    }
    auto env = ParseEnvelope(*json);
    if (!env) return Fail(Errc::kDatabase, "corrupt-root", "stored root envelope malformed");
    auto root = ParseRoot(*env);
    if (!root) return Fail(Errc::kDatabase, "corrupt-root", "stored root malformed");
    root_ = std::move(*root);
    return {};
}

Root Chain::CurrentRoot() {
    MutexLock lock(mu_);
    return root_;
}

Expected<BlockInfo> Chain::Tip() {
    return Read<BlockInfo>([](ChainStore& store) -> Expected<BlockInfo> {
        FW_ASSIGN(auto tip, store.Tip());
        if (!tip) return Fail(Errc::kDatabase, "no-tip", "the store holds no blocks");
        return *tip;
    });
}

Expected<BlockInfo> Chain::AncestorAt(BlockInfo b, std::uint64_t height) {
    while (b.height > height) {
        if (b.main) {
            // Every ancestor of a main-chain block is on the main chain: index by height.
            FW_ASSIGN(auto at, store_->BlockAtHeight(height));
            if (!at) return Fail(Errc::kDatabase, "missing-block", "main chain has a gap");
            return *at;
        }
        FW_ASSIGN(auto parent, store_->BlockByHash(ToHex(b.prev)));
        if (!parent) return Fail(Errc::kDatabase, "missing-block", "side branch has a gap");
        b = *parent;
    }
    return b;
}

Expected<BlockContext> Chain::ContextFor(const BlockInfo& parent, std::int64_t now) {
    BlockContext ctx;
    ctx.prev_hash = parent.hash;
    ctx.prev_height = parent.height;
    ctx.now = now;
    const std::uint64_t height = parent.height + 1;
    std::int64_t first_time = 0;
    if (IsRetargetHeight(height, genesis_.params)) {
        FW_ASSIGN(BlockInfo first, AncestorAt(parent, height - genesis_.params.retarget_window));
        first_time = first.time;
    }
    ctx.required_bits = NextBits(genesis_.params, height, parent.bits, first_time, parent.time);
    std::vector<std::int64_t> times;
    if (parent.main) {
        FW_ASSIGN(times, store_->TimesUpTo(parent.height, kMedianTimeSpan));
    } else {
        // Walk the side branch back; switch to the height index once on the main chain.
        BlockInfo b = parent;
        std::vector<std::int64_t> rev;
        while (rev.size() < kMedianTimeSpan) {
            if (b.main) {
                FW_ASSIGN(auto older, store_->TimesUpTo(b.height, kMedianTimeSpan - rev.size()));
                times = std::move(older);
                break;
            }
            rev.push_back(b.time);
            if (b.height == 0) break;
            FW_ASSIGN(auto p, store_->BlockByHash(ToHex(b.prev)));
            if (!p) return Fail(Errc::kDatabase, "missing-block", "side branch has a gap");
            b = *p;
        }
        times.insert(times.end(), rev.rbegin(), rev.rend());
    }
    ctx.median_time_past = MedianTimePast(std::move(times));
    return ctx;
}

Expected<BlockInfo> Chain::ExtendTip(const EncodedBlock& encoded, const BlockInfo& tip,
                                     std::int64_t now) {
    const Block& block = encoded.block();
    FW_ASSIGN(BlockContext ctx, ContextFor(tip, now));
    StateOverlay added(*view_);
    // The block as a set: the registry records of its miner and senders and which of its tx
    // ids the chain holds, in a few queries, instead of two lookups per tx while validating.
    std::vector<std::string> keys;
    keys.reserve(block.txs.size() + 1);
    keys.push_back(ToHex(block.header.miner));
    for (const Tx& tx : block.txs) keys.push_back(tx.sender);
    FW_ASSIGN(auto records, store_->FindKeys(keys));
    added.PrimeKeys(std::move(records));
    FW_ASSIGN(auto present, store_->ExistingTxs(encoded.tx_ids()));
    added.PrimeTxs(encoded.tx_ids(), present);
    ValidationState state;
    if (!ValidateBlock(encoded, ctx, genesis_.params, added, state)) return Fail(state.ToError());
    const Work work = tip.work + BlockWork(block.header.bits);
    FW_TRY(store_->ConnectInTransaction(encoded, added, work));
    FW_TRY(ReloadRoot());
    FW_ASSIGN(auto new_tip, store_->Tip());
    if (!new_tip) return Fail(Errc::kDatabase, "no-tip", "tip vanished after connect");
    spdlog::info("block {} height {} txs {} connected", ToHex(new_tip->hash), block.header.height,
                 block.txs.size());
    return *new_tip;
}

Expected<BlockInfo> Chain::ConnectTip(const EncodedBlock& encoded, const BlockInfo& tip,
                                      std::int64_t now) {
    BlockInfo new_tip;
    auto written = store_->Transaction([&]() FW_REQUIRES(mu_) -> Status {
        FW_ASSIGN(new_tip, ExtendTip(encoded, tip, now));
        return {};
    });
    if (!written) {
        FW_TRY(ReloadRoot());  // the block may have rotated the root before rolling back
        return Fail(written.error());
    }
    FW_TRY(RebuildMempool(
        std::deque<MempoolEntry>(mempool_->Entries().begin(), mempool_->Entries().end())));
    return new_tip;
}

std::vector<Expected<BlockInfo>> Chain::SubmitBlocks(const std::vector<EncodedBlock>& blocks,
                                                     std::int64_t now) {
    std::vector<Expected<BlockInfo>> results;
    results.reserve(blocks.size());
    while (results.size() < blocks.size()) {
        const std::size_t first = results.size();
        const auto start = std::chrono::steady_clock::now();
        std::vector<BlockInfo> connected;
        std::optional<Error> failure;
        {
            MutexLock lock(mu_);
            auto written = store_->Transaction([&]() FW_REQUIRES(mu_) -> Status {
                connected.clear();
                FW_ASSIGN(auto tip, store_->Tip());
                if (!tip) return Fail(Errc::kDatabase, "no-tip", "the store holds no blocks");
                BlockInfo cur = *tip;
                for (std::size_t i = first; i < blocks.size(); ++i) {
                    const EncodedBlock& e = blocks[i];
                    if (e.block().header.prev_hash != cur.hash) break;
                    FW_ASSIGN(auto existing, store_->BlockByHash(ToHex(e.Hash())));
                    if (existing) break;  // SubmitBlock says why
                    auto next = ExtendTip(e, cur, now);
                    if (!next) {
                        // An invalid block ends the run; the blocks before it stay connected.
                        if (next.error().code == Errc::kDatabase) return Fail(next.error());
                        failure = next.error();
                        break;
                    }
                    cur = *next;
                    connected.push_back(cur);
                }
                return {};
            });
            if (!written) {
                (void)ReloadRoot();
                results.push_back(Fail(written.error()));
                return results;
            }
            if (!connected.empty()) {
                auto rebuilt = RebuildMempool(std::deque<MempoolEntry>(mempool_->Entries().begin(),
                                                                       mempool_->Entries().end()));
                if (!rebuilt) failure = Context(rebuilt.error(), "revalidating the mempool");
            }
        }
        const double batch_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (const auto& info : connected) {
            results.push_back(info);
            Record(results.back(), batch_seconds / static_cast<double>(connected.size()));
        }
        if (!connected.empty()) NotifyTipMoved();
        if (failure) {
            results.push_back(Fail(*failure));
            Record(results.back(), 0);
            return results;
        }
        if (connected.empty()) {
            // Not an extension of the tip: a side block, a reorg, a duplicate or an orphan.
            results.push_back(SubmitBlock(blocks[first], now));
            const auto& r = results.back();
            if (!r && r.error().reason != "duplicate-block") return results;
        }
    }
    return results;
}

Expected<BlockInfo> Chain::Reorg(const EncodedBlock& encoded, const BlockInfo& tip,
                                 std::int64_t now) {
    const Block& block = encoded.block();
    // The branch from the new block back to the main chain, newest first.
    FW_ASSIGN(auto newest, store_->BlockByHash(ToHex(block.Hash())));
    if (!newest) return Fail(Errc::kDatabase, "missing-block", "side block not stored");
    std::vector<BlockInfo> branch;
    BlockInfo b = *newest;
    while (!b.main) {
        branch.push_back(b);
        FW_ASSIGN(auto p, store_->BlockByHash(ToHex(b.prev)));
        if (!p) return Fail(Errc::kDatabase, "missing-block", "side branch has a gap");
        b = *p;
    }
    const BlockInfo fork = b;
    const std::uint64_t depth = tip.height - fork.height;
    if (depth > genesis_.params.finality_depth) {
        spdlog::critical(
            "ALERT: refusing a reorg of depth {} (finality_depth {}) from tip {} to "
            "{} at height {}: a long private branch or an attack",
            depth, genesis_.params.finality_depth, ToHex(tip.hash), ToHex(block.Hash()),
            block.header.height);
        return Fail(Errc::kConflict, "reorg-too-deep",
                    "reorg of depth " + std::to_string(depth) + " exceeds finality_depth " +
                        std::to_string(genesis_.params.finality_depth));
    }
    std::reverse(branch.begin(), branch.end());
    std::vector<Block> abandoned;
    std::string failed_hash;
    ValidationState failed_state;
    auto status = store_->Transaction([&]() FW_REQUIRES(mu_) -> Status {
        abandoned.clear();
        for (std::uint64_t i = 0; i < depth; ++i) {
            FW_ASSIGN(Block gone, store_->DisconnectTip());
            abandoned.push_back(std::move(gone));
            FW_TRY(ReloadRoot());
        }
        BlockInfo parent = fork;
        for (const BlockInfo& info : branch) {
            FW_ASSIGN(auto json, store_->BlockJson(ToHex(info.hash)));
            if (!json) return Fail(Errc::kDatabase, "missing-block", "side block json");
            auto parsed = ParseJson(*json);
            if (!parsed) return Fail(Errc::kDatabase, "corrupt-block", "side block json");
            auto next = EncodedBlock::Parse(*parsed);
            if (!next) return Fail(Context(next.error(), "stored side block"));
            FW_ASSIGN(BlockContext ctx, ContextFor(parent, now));
            StateOverlay added(*view_);
            if (!ValidateBlock(*next, ctx, genesis_.params, added, failed_state)) {
                failed_hash = ToHex(info.hash);
                return Fail(failed_state.ToError());
            }
            FW_TRY(store_->ConnectInTransaction(*next, added, info.work));
            FW_TRY(ReloadRoot());
            FW_ASSIGN(auto t, store_->Tip());
            if (!t) return Fail(Errc::kDatabase, "no-tip", "tip vanished in reorg");
            parent = *t;
        }
        return {};
    });
    if (!status) {
        // The transaction rolled back: the old chain is intact; refresh the cached root.
        FW_TRY(ReloadRoot());
        if (!failed_hash.empty() && failed_state.IsInvalid()) {
            // That block and everything built on it can never be connected.
            bool mark = false;
            for (const BlockInfo& info : branch) {
                mark = mark || ToHex(info.hash) == failed_hash;
                if (mark) FW_TRY(store_->MarkInvalid(ToHex(info.hash)));
            }
        }
        return Fail(status.error());
    }
    FW_ASSIGN(auto new_tip, store_->Tip());
    if (!new_tip) return Fail(Errc::kDatabase, "no-tip", "tip vanished after reorg");
    spdlog::warn("reorg: disconnected {} blocks back to height {}, connected {}; tip {} height {}",
                 depth, fork.height, branch.size(), ToHex(new_tip->hash), new_tip->height);
    // Abandoned txs go back first, oldest block first, so device counters stay in order.
    std::deque<MempoolEntry> candidates;
    for (auto it = abandoned.rbegin(); it != abandoned.rend(); ++it) {
        for (const Tx& tx : it->txs) {
            const std::string canonical = tx.CanonicalText();
            candidates.push_back(MempoolEntry{Sha256Hex(canonical), tx, canonical.size()});
        }
    }
    for (const auto& e : mempool_->Entries()) candidates.push_back(e);
    auto rebuilt = RebuildMempool(std::move(candidates));
    if (!rebuilt) return Fail(Context(rebuilt.error(), "revalidating the mempool"));
    return *new_tip;
}

void Chain::SetMetrics(metrics::Registry& registry) {
    validation_seconds_ = &registry.GetHistogram(
        "fwchain_ledger_block_validation_seconds",
        "Time to validate and connect a block (a batch's time shared by its blocks).");
    blocks_connected_ = &registry.GetCounter(
        "fwchain_ledger_blocks_connected_total",
        "Blocks accepted: connected to the best chain or stored as a side block.");
    blocks_rejected_ = &registry.GetCounter("fwchain_ledger_blocks_rejected_total",
                                            "Blocks refused (invalid, orphan, unknown miner).");
}

void Chain::Record(const Expected<BlockInfo>& outcome, double seconds) {
    if (validation_seconds_ == nullptr) return;
    if (outcome) {
        blocks_connected_->Inc();
        validation_seconds_->Observe(seconds);
    } else if (outcome.error().reason != "duplicate-block") {
        blocks_rejected_->Inc();
    }
}

Expected<BlockInfo> Chain::SubmitBlock(const EncodedBlock& encoded, std::int64_t now) {
    const auto start = std::chrono::steady_clock::now();
    auto outcome = SubmitOne(encoded, now);
    Record(outcome,
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return outcome;
}

Expected<BlockInfo> Chain::SubmitOne(const EncodedBlock& encoded, std::int64_t now) {
    const Block& block = encoded.block();
    BlockInfo result;
    bool tip_moved = false;
    {
        MutexLock lock(mu_);
        const std::string hash = ToHex(block.Hash());
        FW_ASSIGN(auto existing, store_->BlockByHash(hash));
        if (existing) {
            if (existing->invalid) {
                return Fail(Errc::kVerify, "known-invalid", "block failed validation before");
            }
            return Fail(Errc::kConflict, "duplicate-block", "block already stored");
        }
        if (encoded.text().size() > kMaxBlockSize) {
            return Fail(Errc::kTooLarge, reject::kBadLength, "block larger than 4 MiB");
        }
        FW_ASSIGN(auto tip, store_->Tip());
        if (!tip) return Fail(Errc::kDatabase, "no-tip", "the store holds no blocks");
        if (block.header.prev_hash == tip->hash) {
            FW_ASSIGN(result, ConnectTip(encoded, *tip, now));
            tip_moved = true;
        } else {
            FW_ASSIGN(auto parent, store_->BlockByHash(ToHex(block.header.prev_hash)));
            if (!parent) return Fail(Errc::kNotFound, "orphan", "unknown parent block");
            if (parent->invalid) {
                return Fail(Errc::kVerify, reject::kBadPrevBlk, "parent block is invalid");
            }
            FW_ASSIGN(BlockContext ctx, ContextFor(*parent, now));
            ValidationState state;
            if (!CheckBlockContextFree(encoded, ctx, genesis_.params, state)) {
                return Fail(state.ToError());
            }
            // Full state is only known once the branch is connected; until then require at
            // least a key that may mine now, so unknown keys cannot fill the disk with forks.
            FW_ASSIGN(auto miner, store_->FindKey(ToHex(block.header.miner)));
            if (!miner || !miner->CanMine()) {
                return Fail(Errc::kUnauthorized, reject::kBadMiner,
                            "miner key is not admitted or is revoked");
            }
            const Work work = parent->work + BlockWork(block.header.bits);
            FW_TRY(store_->StoreSideBlock(encoded, work));
            // Most work wins; on equal work the lower hash, so that nodes which saw two
            // competing blocks in different orders still agree once mining stops.
            if (work > tip->work || (work == tip->work && block.Hash() < tip->hash)) {
                FW_ASSIGN(result, Reorg(encoded, *tip, now));
                tip_moved = true;
            } else {
                FW_ASSIGN(auto side, store_->BlockByHash(hash));
                if (!side) return Fail(Errc::kDatabase, "missing-block", "side block vanished");
                result = *side;
                spdlog::info("side block {} height {} stored (not heavier than the tip)", hash,
                             block.header.height);
            }
        }
    }
    if (tip_moved) NotifyTipMoved();
    return result;
}

void Chain::NotifyTipMoved() {
    Bump();
    std::function<void()> listener;
    {
        MutexLock lock(listener_mu_);
        listener = tip_listener_;
    }
    if (listener) listener();
}

Status Chain::RebuildMempool(std::deque<MempoolEntry> candidates) {
    FW_ASSIGN(auto tip, store_->Tip());
    const std::uint64_t height = tip ? tip->height + 1 : 0;
    auto fresh = std::make_unique<StateOverlay>(*view_);
    std::deque<MempoolEntry> kept;
    std::set<std::string> seen;
    for (const auto& e : candidates) {
        if (!seen.insert(e.id).second) continue;
        ValidationState state;
        // Signatures were checked on entry; only the chain-dependent rules can change.
        if (!CheckTxForChain(e.tx, e.id, height, *fresh, state, false)) {
            if (state.IsError()) return Fail(state.ToError());
            continue;  // mined in the block, or no longer authorised (e.g. device revoked)
        }
        FW_TRY(fresh->Apply(e.tx, e.id, height));
        kept.push_back(e);
    }
    mempool_->Reset(std::move(kept));
    mempool_state_ = std::move(fresh);
    return {};
}

Expected<std::string> Chain::SubmitTx(const Tx& tx) {
    const std::string canonical = tx.CanonicalText();
    if (canonical.size() > kMaxTxSize) {
        return Fail(Errc::kTooLarge, reject::kBadTx, "tx larger than 16 KiB");
    }
    const std::string id = Sha256Hex(canonical);
    {
        MutexLock lock(mu_);
        if (mempool_->Has(id)) {
            return Fail(Errc::kConflict, reject::kDuplicateTx, "tx " + id + " already pending");
        }
        if (mempool_->Full()) {
            return Fail(Errc::kTooLarge, "mempool-full", "too many pending txs, retry later");
        }
        FW_ASSIGN(auto tip, store_->Tip());
        const std::uint64_t height = tip ? tip->height + 1 : 0;
        ValidationState state;
        if (!CheckTxForChain(tx, id, height, *mempool_state_, state, true)) {
            return Fail(state.ToError());
        }
        FW_TRY(mempool_state_->Apply(tx, id, height));
        mempool_->Add(MempoolEntry{id, tx, canonical.size()});
    }
    Bump();
    return id;
}

Expected<Block> Chain::BuildTemplate(const PublicKey& miner, std::int64_t now) {
    MutexLock lock(mu_);
    FW_ASSIGN(auto tip, store_->Tip());
    if (!tip) return Fail(Errc::kDatabase, "no-tip", "the store holds no blocks");
    FW_ASSIGN(BlockContext ctx, ContextFor(*tip, now));
    Block b;
    std::size_t budget = kMaxBlockSize - kBlockOverhead;
    // Mempool entries are valid in order on the tip, so any prefix is a valid block body.
    for (const auto& e : mempool_->Entries()) {
        if (b.txs.size() >= kMaxBlockTxs || e.size > budget) break;
        budget -= e.size;
        b.txs.push_back(e.tx);
    }
    b.header.version = 1;
    b.header.bits = ctx.required_bits;
    b.header.height = tip->height + 1;
    b.header.timestamp = std::max(now, ctx.median_time_past + 1);
    b.header.prev_hash = tip->hash;
    b.header.merkle_root = MerkleRootOfTxs(b.txs);
    b.header.miner = miner;
    return b;
}

Expected<bool> Chain::NeedsMining() {
    MutexLock lock(mu_);
    if (!mempool_->Empty()) return true;
    FW_ASSIGN(auto release_height, store_->LatestReleaseHeight());
    if (!release_height) return false;
    FW_ASSIGN(auto tip, store_->Tip());
    if (!tip) return false;
    const std::uint64_t confirmations = tip->height - *release_height + 1;
    return confirmations < genesis_.params.confirmations;
}

Expected<std::optional<TxStatus>> Chain::GetTx(const std::string& id) {
    // The mempool first: a tx leaves it only after the block that holds it is committed, so a
    // tx not pending any more is found by the store read that follows.
    {
        MutexLock lock(mu_);
        if (const Tx* pending = mempool_->Get(id)) {
            TxStatus s;
            s.id = id;
            s.tx = pending->ToJson();
            return std::optional<TxStatus>(std::move(s));
        }
    }
    return Read<std::optional<TxStatus>>(
        [&](ChainStore& store) -> Expected<std::optional<TxStatus>> {
            FW_ASSIGN(auto rec, store.FindTx(id));
            if (!rec) return std::optional<TxStatus>();
            FW_ASSIGN(auto tip, store.Tip());
            FW_ASSIGN(PruneInfo pruning, store.Pruning());
            Json proof;
            if (rec->height <= pruning.prune_height && rec->height > 0) {
                // The block's other txs are gone: the path was stored when it was pruned.
                FW_ASSIGN(auto stored, store.StoredProof(id));
                if (!stored) {
                    return Fail(Errc::kDatabase, "missing-proof", "no stored proof of tx " + id);
                }
                proof = std::move(*stored);
            } else {
                FW_ASSIGN(auto ids, store.BlockTxIds(rec->height));
                FW_ASSIGN(auto hashes, TxIdsToHashes(ids));
                proof = MerkleProofToJson(MakeMerkleProof(hashes, rec->index));
            }
            TxStatus s;
            s.id = id;
            s.tx = std::move(rec->tx);
            s.block_hash = rec->block_hash;
            s.height = rec->height;
            s.confirmations = tip && tip->height >= rec->height ? tip->height - rec->height + 1 : 0;
            s.proof = std::move(proof);
            return std::optional<TxStatus>(std::move(s));
        });
}

Expected<SearchPage> Chain::Search(const SearchQuery& q) {
    return Read<SearchPage>([&](ChainStore& store) { return store.Search(q); });
}

Expected<StatusReport> Chain::FleetStatus(const std::string& product, std::size_t limit,
                                          const std::string& cursor) {
    return Read<StatusReport>(
        [&](ChainStore& store) { return store.FleetStatus(product, limit, cursor); });
}

Expected<Json> Chain::Rollouts(const std::string& product, std::int64_t now) {
    // The root of the tip the writer holds now; a root tx connected meanwhile changes only which
    // keys may approve, and the next request sees both.
    const Root root = CurrentRoot();
    return Read<Json>([&](ChainStore& store) -> Expected<Json> {
        FW_ASSIGN(Json report, RolloutReport(store, root, product, now));
        FW_ASSIGN(auto tip, store.Tip());
        if (tip) report["height"] = tip->height;
        return report;
    });
}

Expected<std::vector<ProductSummary>> Chain::Products() {
    return Read<std::vector<ProductSummary>>([&](ChainStore& store) { return store.Products(); });
}

Expected<std::vector<ReleaseSummary>> Chain::Releases(const std::string& product,
                                                      std::size_t limit) {
    return Read<std::vector<ReleaseSummary>>(
        [&](ChainStore& store) { return store.Releases(product, limit); });
}

Expected<ActivityCounts> Chain::Activity(const ActivityQuery& q) {
    return Read<ActivityCounts>([&](ChainStore& store) { return store.Activity(q); });
}

Expected<std::map<std::uint64_t, std::uint64_t>> Chain::TxCounts(std::uint64_t from,
                                                                 std::uint64_t to) {
    return Read<std::map<std::uint64_t, std::uint64_t>>(
        [&](ChainStore& store) { return store.TxCounts(from, to); });
}

Expected<std::vector<std::string>> Chain::BlockTxIds(std::uint64_t height) {
    return Read<std::vector<std::string>>(
        [&](ChainStore& store) { return store.BlockTxIds(height); });
}

Expected<std::vector<KeyRecord>> Chain::Registry(const std::string& role_filter) {
    return Read<std::vector<KeyRecord>>(
        [&](ChainStore& store) { return store.Registry(role_filter); });
}

Expected<std::optional<KeyRecord>> Chain::FindKey(const std::string& key_hex) {
    return Read<std::optional<KeyRecord>>(
        [&](ChainStore& store) { return store.FindKey(key_hex); });
}

Expected<std::optional<std::string>> Chain::BlockJson(const std::string& hash_hex) {
    return Read<std::optional<std::string>>(
        [&](ChainStore& store) { return store.BlockJson(hash_hex); });
}

Expected<std::vector<BlockInfo>> Chain::Headers(std::uint64_t from, std::size_t count) {
    return Read<std::vector<BlockInfo>>(
        [&](ChainStore& store) { return store.Headers(from, count); });
}

Expected<std::optional<BlockInfo>> Chain::BlockInfoByHash(const std::string& hash_hex) {
    return Read<std::optional<BlockInfo>>(
        [&](ChainStore& store) { return store.BlockByHash(hash_hex); });
}

Expected<std::optional<std::string>> Chain::BlockJsonAtHeight(std::uint64_t height) {
    return Read<std::optional<std::string>>(
        [&](ChainStore& store) { return store.BlockJsonAtHeight(height); });
}

Expected<std::optional<std::uint64_t>> Chain::LastNonce(const std::string& key_hex) {
    MutexLock lock(mu_);
    FW_ASSIGN(auto rec, mempool_state_->FindKey(key_hex));
    if (!rec) return std::optional<std::uint64_t>();
    return rec->last_nonce;
}

Expected<StorageStatus> Chain::Storage() {
    FW_ASSIGN(StorageStatus st,
              Read<StorageStatus>([](ChainStore& store) -> Expected<StorageStatus> {
                  StorageStatus out;
                  FW_ASSIGN(PruneInfo info, store.Pruning());
                  out.pruned = info.pruned || info.prune_height > 0;
                  out.prune_height = info.prune_height;
                  out.store_bytes = store.FileBytes();
                  FW_ASSIGN(out.kept_devices, store.KeptDeviceCount());
                  return out;
              }));
    st.budget = prune_budget_;
    st.over_budget = over_budget_.load();
    return st;
}

Expected<StorageStatus> Chain::PruneIfNeeded() {
    if (prune_budget_ == 0) return Storage();
    MutexLock one_pass(prune_mu_);
    {
        UniqueLock lock(mu_);
        if (store_->FileBytes() <= prune_budget_) {
            over_budget_ = false;
        } else {
            // A fifth of headroom, so a node just over its budget does not prune (and rewrite
            // its file) at every block.
            const std::uint64_t target = prune_budget_ - prune_budget_ / 5;
            const std::uint64_t finality = genesis_.params.finality_depth;
            std::uint64_t pruned_to = 0;
            // Measured by the previous round (or pass): one rewrite per pass once known.
            std::uint64_t& bytes_per_height = prune_bytes_per_height_;
            FW_TRY(store_->Shrink());
            while (true) {
                FW_ASSIGN(auto tip, store_->Tip());
                FW_ASSIGN(PruneInfo info, store_->Pruning());
                const std::uint64_t limit =
                    tip && tip->height > finality ? tip->height - finality : 0;
                if (info.prune_height >= limit) break;
                FW_ASSIGN(std::uint64_t live, store_->LiveBytes());
                if (live <= target) break;
                // Deleted rows free whole pages only where they were contiguous (old heights);
                // across the tx indexes (random ids, device-ordered keys) they leave partly
                // filled pages. So each round prunes, rewrites the file (VACUUM: exact size) and
                // sizes the next round from the bytes a height freed.
                std::uint64_t step = kPruneBatch;
                if (bytes_per_height > 0) {
                    step = std::max<std::uint64_t>(step, (live - target) / bytes_per_height + 1);
                }
                const std::uint64_t to = std::min(limit, info.prune_height + step);
                for (std::uint64_t h = info.prune_height; h < to;) {
                    h = std::min(to, h + kPruneBatch);
                    FW_TRY(store_->PruneThrough(h));
                    // Let block validation and the API in between batches.
                    lock.unlock();
                    std::this_thread::yield();
                    lock.lock();
                }
                pruned_to = to;
                FW_TRY(store_->Compact());
                FW_ASSIGN(std::uint64_t after, store_->LiveBytes());
                bytes_per_height = live > after ? (live - after) / (to - info.prune_height) : 0;
                if (bytes_per_height == 0) bytes_per_height = 1;
            }
            FW_TRY(store_->Shrink());
            const std::uint64_t bytes = store_->FileBytes();
            if (pruned_to > 0) {
                spdlog::info("pruned block bodies through height {}: store {} bytes (budget {})",
                             pruned_to, bytes, prune_budget_);
            }
            const bool over = bytes > prune_budget_;
            if (over && !over_budget_.load()) {
                spdlog::warn(
                    "ledger store is {} bytes, over its --prune-budget of {} bytes: what a pruned "
                    "node must keep (headers, registry, release/approval/rollout txs, outcome "
                    "records, its own devices' txs, the last {} block bodies) does not fit; "
                    "raise the budget",
                    bytes, prune_budget_, finality);
            }
            if (!over && over_budget_.load()) {
                spdlog::info("ledger store is {} bytes: back under its --prune-budget of {}", bytes,
                             prune_budget_);
            }
            over_budget_ = over;
        }
    }
    return Storage();
}

Status Chain::KeepDevices(const std::vector<std::string>& device_ids) {
    MutexLock lock(mu_);
    return store_->KeepDevices(device_ids);
}

std::size_t Chain::MempoolSize() {
    MutexLock lock(mu_);
    return mempool_->Size();
}

void Chain::Bump() {
    {
        MutexLock lock(wait_mu_);
        ++generation_;
    }
    change_cv_.notify_all();
}

std::uint64_t Chain::WaitForChange(std::uint64_t seen, std::chrono::milliseconds timeout) {
    UniqueLock lock(wait_mu_);
    change_cv_.wait_for(lock, timeout, [&] { return generation_.load() != seen; });
    return generation_.load();
}

void Chain::SetTipListener(std::function<void()> fn) {
    MutexLock lock(listener_mu_);
    tip_listener_ = std::move(fn);
}

}  // namespace fwchain::ledger
