#pragma once
// A ledger node: chain + HTTP API + optional miner. Used by `ledger node` and embeddable by the
// gateway and the vendor server.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/core/crypto.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/consensus/miner.hpp"
#include "ledger/net/api.hpp"
#include "ledger/net/peers.hpp"

namespace fwchain::ledger {

struct NodeOptions {
    std::string data_dir;
    std::string listen = "127.0.0.1:7400";
    std::string genesis_hash;  // hex; the genesis file must hash to it
    std::string genesis_file;
    bool mine = false;
    std::string key_file;  // miner key, needed with mine
    unsigned mining_threads = 1;
    unsigned mining_duty = 100;      // percent of each miner thread's time spent hashing
    http::ServerOptions http;        // the API's HTTP limits
    std::vector<std::string> peers;  // peer node URLs (static config)
    std::string advertise;           // our URL for peers; default http://LISTEN (bound port)
    unsigned sync_interval_ms = 5000;
    unsigned ban_seconds = 60;
    // Pruned node: keep ledger.sqlite (+ WAL) under this many bytes (0 = archival, keep all).
    std::uint64_t prune_budget = 0;
    // SQLite read connections for the API (ChainOptions::readers; 0 = reads take the chain lock).
    std::size_t read_connections = 2;
    // Sync the chain up to this block without checking tx signatures (a checkpoint the vendor
    // signed; docs/architecture.md "Fast joins").
    std::optional<AssumeValidPoint> assume_valid;
    // Devices whose txs a pruned node keeps (added to those kept before; see Chain::KeepDevices).
    std::vector<std::string> keep_devices;
};

// Reads a genesis block JSON file and checks its hash is `expected_hash_hex`.
Expected<Block> LoadGenesisFile(const std::string& path, const std::string& expected_hash_hex);

// One mining round on `chain`: template, proof of work, signature, connect. Returns the
// connected block, or nullopt when `stop` interrupted the search or the template went stale.
Expected<std::optional<BlockInfo>> MineOneBlock(Chain& chain, const SigningKey& key,
                                                const MinerOptions& opts,
                                                const std::atomic<bool>& stop);

class Node {
  public:
    // Loads the genesis, opens DIR/ledger.sqlite and, with mine, the key. The miner mines while
    // the key is an admitted, unrevoked miner at the tip (genesis miner or gateway): it starts
    // when an admission is connected and stops, without stopping the node, at a revocation.
    static Expected<std::unique_ptr<Node>> Open(const NodeOptions& opts);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Binds the API and starts serving (and mining). Returns the bound port.
    Expected<int> Start();
    void Stop();
    // Set when the miner hit a local failure (database): the node should exit with an error.
    std::optional<Error> Failure();
    // True while the miner key may mine at the tip.
    bool Mining() const { return mining_.load(); }
    // Blocks this node mined since it started.
    std::uint64_t BlocksMined() const { return blocks_mined_ ? blocks_mined_->Value() : 0; }

    Chain& chain() { return *chain_; }
    PeerManager* peers() { return peers_.get(); }
    // The registry GET /metrics serves (valid after Start).
    metrics::Registry& metrics() { return *metrics_; }
    const std::string& host() const { return host_; }

  private:
    Node() = default;
    void MinerLoop();
    // With a prune budget: prunes after the tip moves, off the API and miner threads.
    void PrunerLoop();
    void SetFailure(const Error& e);
    Expected<std::optional<BlockInfo>> MineNow();
    void RelayMined(const BlockInfo& info);
    void RegisterMetrics();

    NodeOptions opts_;
    std::string host_;
    int port_ = 0;
    std::unique_ptr<Chain> chain_;
    std::unique_ptr<PeerManager> peers_;
    std::unique_ptr<ApiServer> api_;
    Mutex mine_now_mu_;  // one GET /mine at a time
    std::optional<SigningKey> key_;
    std::thread api_thread_;
    std::thread miner_thread_;
    std::thread pruner_thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> abort_job_{false};
    std::atomic<bool> mining_{false};  // the key may mine at the tip (admitted, not revoked)
    Mutex failure_mu_;
    std::optional<Error> failure_ FW_GUARDED_BY(failure_mu_);
    std::shared_ptr<metrics::Registry> metrics_;
    metrics::Counter* blocks_mined_ = nullptr;
};

}  // namespace fwchain::ledger
