#include "ledger/net/node.hpp"

#include <spdlog/spdlog.h>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"

namespace fwchain::ledger {

Expected<Block> LoadGenesisFile(const std::string& path, const std::string& expected_hash_hex) {
    auto want = Hash256FromHex(expected_hash_hex);
    if (!want) {
        return Fail(Errc::kInvalid, "bad-genesis-hash",
                    "--genesis must be a 64-char lowercase hex block hash");
    }
    FW_ASSIGN(Json j, LoadJsonFile(path, kMaxBlockSize));
    auto block = Block::FromJson(j);
    if (!block) return Fail(Context(block.error(), "genesis file " + path));
    if (block->Hash() != *want) {
        return Fail(Errc::kVerify, "genesis-mismatch",
                    "genesis file " + path + " has hash " + ToHex(block->Hash()) +
                        ", but --genesis is " + expected_hash_hex);
    }
    return std::move(*block);
}

Expected<std::optional<BlockInfo>> MineOneBlock(Chain& chain, const SigningKey& key,
                                                const MinerOptions& opts,
                                                const std::atomic<bool>& stop) {
    FW_ASSIGN(Block block, chain.BuildTemplate(key.Public(), NowSeconds()));
    auto header = MineHeader(block.header, opts, stop);
    if (!header) return std::optional<BlockInfo>();
    block.header = *header;
    const Hash256 hash = block.Hash();
    block.miner_sig = key.Sign(hash.data(), hash.size());
    // Our own txs came from the mempool, where their signatures were verified.
    auto connected = chain.SubmitBlock(EncodedBlock::Encode(std::move(block), true), NowSeconds());
    if (!connected) {
        // A block from a peer moved the tip while we mined: the work is stale, not wrong.
        if (connected.error().reason == reject::kBadPrevBlk) return std::optional<BlockInfo>();
        return Fail(Context(connected.error(), "connecting our own block"));
    }
    return std::optional<BlockInfo>(*connected);
}

Expected<std::unique_ptr<Node>> Node::Open(const NodeOptions& opts) {
    std::unique_ptr<Node> node(new Node());
    node->opts_ = opts;
    FW_ASSIGN(auto hp, http::ParseHostPort(opts.listen));
    node->host_ = hp.first;
    node->port_ = hp.second;
    FW_ASSIGN(Block genesis, LoadGenesisFile(opts.genesis_file, opts.genesis_hash));
    FW_TRY(MakeDirs(opts.data_dir, 0700));
    ChainOptions co;
    co.db_path = opts.data_dir + "/ledger.sqlite";
    co.genesis_hash = genesis.Hash();
    co.genesis = std::move(genesis);
    co.prune_budget = opts.prune_budget;
    co.readers = opts.read_connections;
    FW_ASSIGN(node->chain_, Chain::Open(co));
    FW_TRY(node->chain_->KeepDevices(opts.keep_devices));
    if (opts.prune_budget > 0) {
        spdlog::info("pruned node: ledger store budget {} bytes, the last {} block bodies kept",
                     opts.prune_budget, node->chain_->Params().finality_depth);
    }
    if (opts.mine) {
        if (opts.key_file.empty()) {
            return Fail(Errc::kInvalid, "no-key", "--mine needs --key FILE (the miner key)");
        }
        FW_ASSIGN(SigningKey key, SigningKey::Load(opts.key_file));
        // A key not admitted yet (a new gateway) or revoked: the node runs, syncs and serves,
        // and mines from the block that admits it until the block that revokes it.
        FW_ASSIGN(auto rec, node->chain_->FindKey(key.PublicHex()));
        if (!rec || !rec->CanMine()) {
            spdlog::warn(
                "key {} is not an admitted miner on this chain yet: mining starts once "
                "its admission (vendor-server admit-gateway) is in a block",
                key.Id().substr(0, 16));
        }
        node->key_ = std::move(key);
    }
    for (const auto& p : opts.peers) FW_TRY(NormalizePeerUrl(p));
    if (!opts.advertise.empty()) FW_TRY(NormalizePeerUrl(opts.advertise));
    return node;
}

Node::~Node() { Stop(); }

Expected<int> Node::Start() {
    // The API needs the peer manager and the advertised URL needs the bound port: bind a
    // socket-level server first, then wire the rest before serving.
    RegisterMetrics();
    ApiOptions ao;
    ao.server = opts_.http;
    ao.server.metrics = metrics_;
    PeerOptions po;
    po.sync_interval = std::chrono::milliseconds(std::max(50u, opts_.sync_interval_ms));
    po.ban_time = std::chrono::seconds(opts_.ban_seconds);
    po.assume_valid = opts_.assume_valid;
    peers_ = std::make_unique<PeerManager>(*chain_, po);
    ao.peers = peers_.get();
    ao.on_block = [this](const EncodedBlock& b) { peers_->RelayBlock(b.text()); };
    if (key_) ao.mine_now = [this] { return MineNow(); };
    api_ = std::make_unique<ApiServer>(*chain_, ao);
    FW_ASSIGN(int port, api_->Bind(host_, port_));
    port_ = port;
    std::string self = opts_.advertise;
    if (self.empty()) {
        const std::string host = host_ == "0.0.0.0" ? "127.0.0.1" : host_;
        self = "http://" + host + ":" + std::to_string(port);
    }
    FW_ASSIGN(std::string self_norm, NormalizePeerUrl(self));
    peers_->SetSelf(self_norm);
    for (const auto& p : opts_.peers) FW_TRY(peers_->Add(p));
    api_thread_ = std::thread([this] { api_->Run(); });
    peers_->Start();
    if (key_) {
        chain_->SetTipListener([this] { abort_job_ = true; });
        miner_thread_ = std::thread([this] { MinerLoop(); });
    }
    if (opts_.prune_budget > 0) pruner_thread_ = std::thread([this] { PrunerLoop(); });
    auto tip = chain_->Tip();
    if (tip) {
        spdlog::info("ledger node on {}:{} tip height {} hash {}", host_, port, tip->height,
                     ToHex(tip->hash));
    }
    return port;
}

void Node::RegisterMetrics() {
    metrics_ = opts_.http.metrics ? opts_.http.metrics : std::make_shared<metrics::Registry>();
    metrics::Registry& m = *metrics_;
    chain_->SetMetrics(m);
    blocks_mined_ = &m.GetCounter("fwchain_ledger_blocks_mined_total", "Blocks this node mined.");
    m.AddGaugeFn("fwchain_ledger_height", "Height of the best chain's tip.", [this] {
        auto tip = chain_->Tip();
        return tip ? static_cast<double>(tip->height) : -1.0;
    });
    m.AddGaugeFn("fwchain_ledger_mempool_txs", "Valid txs waiting for a block.",
                 [this] { return static_cast<double>(chain_->MempoolSize()); });
    auto& connected = m.GetCounter("fwchain_ledger_blocks_connected_total", "");
    m.AddCounterFn("fwchain_ledger_blocks_received_total",
                   "Blocks accepted from peers and the API (accepted minus mined here).",
                   [&connected, this] {
                       const auto c = connected.Value();
                       const auto mined = blocks_mined_->Value();
                       return static_cast<double>(c > mined ? c - mined : 0);
                   });
    m.AddGaugeFn("fwchain_ledger_peers", "Peers not banned.",
                 [this] { return peers_ ? static_cast<double>(peers_->Usable().size()) : 0.0; });
    m.AddGaugeFn("fwchain_ledger_syncing", "1 while blocks are fetched from a heavier peer.",
                 [this] { return peers_ && peers_->Syncing() ? 1.0 : 0.0; });
    m.AddGaugeFn("fwchain_ledger_best_peer_height",
                 "The greatest tip height a peer reported at the last sync round.",
                 [this] { return peers_ ? static_cast<double>(peers_->BestPeerHeight()) : 0.0; });
    m.AddGaugeFn("fwchain_ledger_store_bytes", "Bytes of ledger.sqlite and its WAL on disk.",
                 [this] {
                     auto st = chain_->Storage();
                     return st ? static_cast<double>(st->store_bytes) : -1.0;
                 });
    m.AddGaugeFn("fwchain_ledger_prune_height",
                 "Block bodies up to this height are pruned (0 on an archival node).", [this] {
                     auto st = chain_->Storage();
                     return st ? static_cast<double>(st->prune_height) : -1.0;
                 });
    m.AddGaugeFn("fwchain_ledger_mining", "1 while this node mines (an admitted key).",
                 [this] { return mining_.load() && !stopping_ ? 1.0 : 0.0; });
}

void Node::Stop() {
    stopping_ = true;
    abort_job_ = true;
    if (chain_) chain_->Interrupt();
    if (miner_thread_.joinable()) miner_thread_.join();
    if (pruner_thread_.joinable()) pruner_thread_.join();
    if (peers_) peers_->Stop();
    if (api_) api_->Stop();
    if (api_thread_.joinable()) api_thread_.join();
}

Expected<std::optional<BlockInfo>> Node::MineNow() {
    // One block on demand (GET /mine); the background miner may race it, in which case one of
    // the two blocks becomes a side block, as with any two miners.
    MutexLock lock(mine_now_mu_);
    MinerOptions mo;
    mo.threads = std::max(1u, opts_.mining_threads);
    mo.low_priority = true;
    mo.duty_percent = opts_.mining_duty;
    std::uint8_t base[8];
    RandomBytes(base, sizeof(base));
    mo.extra_nonce_base = GetLe64(base);
    auto mined = MineOneBlock(*chain_, *key_, mo, stopping_);
    if (mined && *mined) {
        blocks_mined_->Inc();
        RelayMined(**mined);
    }
    return mined;
}

void Node::RelayMined(const BlockInfo& info) {
    // Stored blocks are canonical JSON already.
    auto text = chain_->BlockJson(ToHex(info.hash));
    if (text && *text && peers_) peers_->RelayBlock(std::move(**text));
}

void Node::SetFailure(const Error& e) {
    MutexLock lock(failure_mu_);
    failure_ = e;
}

void Node::PrunerLoop() {
    std::uint64_t prune_height = 0;
    while (!stopping_) {
        std::uint64_t seen = chain_->Generation();
        auto st = chain_->PruneIfNeeded();
        if (!st) {
            spdlog::error("pruning stopped: {}", st.error().ToString());
            SetFailure(st.error());
            return;
        }
        if (st->prune_height != prune_height) {
            // GET /v1/tip is cached per generation: peers should see the new prune height now.
            prune_height = st->prune_height;
            chain_->Interrupt();
            seen = chain_->Generation();
        }
        // Any change (a block, a tx) wakes it; the check under budget is a stat of two files.
        chain_->WaitForChange(seen, std::chrono::seconds(5));
    }
}

std::optional<Error> Node::Failure() {
    MutexLock lock(failure_mu_);
    return failure_;
}

void Node::MinerLoop() {
    MinerOptions mo;
    mo.threads = std::max(1u, opts_.mining_threads);
    mo.low_priority = true;
    mo.duty_percent = opts_.mining_duty;
    while (!stopping_) {
        const std::uint64_t seen = chain_->Generation();
        // Admission and revocation are chain state: look again whenever the chain moved.
        auto rec = chain_->FindKey(key_->PublicHex());
        const bool may_mine = rec && *rec && (*rec)->CanMine();
        if (may_mine != mining_.load()) {
            mining_ = may_mine;
            if (may_mine) {
                spdlog::info("key {} is an admitted miner: mining", key_->Id().substr(0, 16));
            } else {
                spdlog::warn(
                    "key {} may not mine (not admitted, or revoked): mining stopped; "
                    "the node keeps syncing and serving",
                    key_->Id().substr(0, 16));
            }
        }
        if (!may_mine) {
            chain_->WaitForChange(seen, std::chrono::seconds(1));
            continue;
        }
        auto needed = chain_->NeedsMining();
        if (needed && !*needed) {
            chain_->WaitForChange(seen, std::chrono::seconds(1));
            continue;
        }
        // Reset before re-checking stopping_: Stop() sets stopping_ then abort_job_, so a stop
        // cannot be lost between the two.
        abort_job_ = false;
        if (stopping_) break;
        std::uint8_t base[8];
        RandomBytes(base, sizeof(base));
        mo.extra_nonce_base = GetLe64(base);
        auto mined = needed ? MineOneBlock(*chain_, *key_, mo, abort_job_)
                            : Expected<std::optional<BlockInfo>>(needed.error());
        if (!mined && mined.error().code == Errc::kUnauthorized) {
            continue;  // revoked between the check and the block: the next round stops mining
        }
        if (!mined) {
            spdlog::error("miner stopped: {}", mined.error().ToString());
            MutexLock lock(failure_mu_);
            failure_ = mined.error();
            return;
        }
        if (*mined) {
            spdlog::info("mined block {} at height {}", ToHex((*mined)->hash), (*mined)->height);
            blocks_mined_->Inc();
            RelayMined(**mined);
        }
    }
}

}  // namespace fwchain::ledger
