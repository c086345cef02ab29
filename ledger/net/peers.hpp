#pragma once
// Peers of a ledger node (DESIGN.md §5 "Nodes gossip new txs and blocks to peers, sync
// headers-first from the best peer on start and when they see a heavier tip"): the peer list
// (static config plus POST /v1/peers), a bounded gossip queue drained by its own thread so the
// API never waits on a peer, and a sync thread. Everything a peer sends goes through the same
// Chain::SubmitBlock validation as any other input; a peer that sends invalid data is banned
// for a while.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "common/core/mutex.hpp"
#include "ledger/chain/chain.hpp"

namespace fwchain::http {
class Client;
}

namespace fwchain::ledger {

// GET /v1/blocks?hashes=H1,H2,...: at most this many hashes per request; the answer stops adding
// blocks once it passes kMaxBlocksAnswer bytes (so it holds at most that plus one block).
inline constexpr std::size_t kMaxBlocksPerRequest = 32;
inline constexpr std::size_t kMaxBlocksAnswer = 8 << 20;

// A block the vendor vouches for (the checkpoint of its signed timestamp, or --assume-valid):
// blocks on the chain leading to it are synced without their tx signatures checked.
struct AssumeValidPoint {
    std::uint64_t height = 0;
    Hash256 hash{};
};

// "HEIGHT:HASH" (the hash 64 hex characters).
Expected<AssumeValidPoint> ParseAssumeValid(const std::string& text);

struct PeerOptions {
    std::string self_url;  // announced to new peers so they add us back; empty = none
    std::chrono::milliseconds sync_interval{5000};
    std::chrono::seconds ban_time{60};
    std::size_t gossip_queue_max = 1024;  // items beyond are dropped (peers catch up by sync)
    int connect_timeout_s = 2;
    int read_timeout_s = 10;
    std::size_t headers_per_request = 500;
    std::optional<AssumeValidPoint> assume_valid;
};

struct PeerInfo {
    std::string url;
    std::int64_t banned_until = 0;  // epoch seconds, 0 = not banned
    std::string ban_reason;
};

// Canonical form of a peer URL ("http://host:port", no trailing slash), or an error.
Expected<std::string> NormalizePeerUrl(const std::string& url);

class PeerManager {
  public:
    PeerManager(Chain& chain, PeerOptions opts);
    ~PeerManager();
    PeerManager(const PeerManager&) = delete;
    PeerManager& operator=(const PeerManager&) = delete;

    void Start();
    void Stop();
    // Our own URL (known once the API is bound): announced to new peers, never added as one.
    void SetSelf(const std::string& url) { opts_.self_url = url; }

    // Adds a peer; returns true when it was new (then we announce ourselves to it and sync).
    Expected<bool> Add(const std::string& url);
    std::vector<PeerInfo> List();
    // The peers not banned now.
    std::vector<std::string> Usable();
    void Ban(const std::string& url, const std::string& reason);

    // Queue a tx / block for all peers. Never blocks: when the queue is full the oldest item
    // is dropped.
    void RelayTx(const Json& tx);
    void RelayBlock(std::string canonical_block);
    // Wake the sync thread (e.g. a block arrived whose parent we do not know).
    void TriggerSync();
    // Syncs now from the heaviest peer; true when our tip changed.
    Expected<bool> SyncNow();
    // True while blocks are being fetched from a heavier peer (metrics, status).
    bool Syncing() const { return syncing_.load(); }
    // The greatest tip height a peer reported at the last sync round.
    std::uint64_t BestPeerHeight() const { return best_peer_height_.load(); }
    // Sets (or moves) the assume-valid checkpoint; later syncs use it.
    void SetAssumeValid(const AssumeValidPoint& point);
    // Blocks synced so far without their tx signatures checked (below the checkpoint).
    std::uint64_t AssumedBlocks() const { return assumed_blocks_.load(); }

  private:
    struct Item {
        std::string path;
        std::string body;
        std::string only_to;  // one peer (announce), or empty for all
    };
    void Enqueue(Item item);
    void GossipLoop();
    void SyncLoop();
    // `prune_height`: the peer's tip said it holds no block bodies up to that height.
    Expected<bool> SyncFrom(const std::string& url, std::uint64_t prune_height);
    // The hashes of the peer's chain from our tip up to the assume-valid block, once its headers
    // link to both; empty when there is no checkpoint above our tip or the peer lacks it.
    Status LearnAssumedChain(http::Client& c, const BlockInfo& ours);
    bool Assumed(const Hash256& hash);

    Chain& chain_;
    PeerOptions opts_;
    // Lock order: sync_run_mu_, then mu_ or assume_mu_ (never both).
    Mutex sync_run_mu_ FW_ACQUIRED_BEFORE(mu_, assume_mu_);  // one sync at a time
    Mutex mu_;
    std::map<std::string, PeerInfo> peers_ FW_GUARDED_BY(mu_);
    std::deque<Item> queue_ FW_GUARDED_BY(mu_);
    std::condition_variable queue_cv_;
    bool stopping_ FW_GUARDED_BY(mu_) = false;
    bool sync_requested_ FW_GUARDED_BY(mu_) = true;  // sync on start
    std::condition_variable sync_cv_;
    std::thread gossip_thread_;
    std::thread sync_thread_;
    std::atomic<bool> syncing_{false};
    std::atomic<std::uint64_t> best_peer_height_{0};
    struct HashOfHash {
        std::size_t operator()(const Hash256& h) const {
            std::size_t v = 0;
            std::memcpy(&v, h.data(), sizeof(v));
            return v;
        }
    };
    Mutex assume_mu_;
    std::unordered_set<Hash256, HashOfHash> assumed_ FW_GUARDED_BY(assume_mu_);
    std::atomic<std::uint64_t> assumed_blocks_{0};
};

}  // namespace fwchain::ledger
