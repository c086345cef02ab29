#pragma once
// The gateway's sync loop (DESIGN.md §6 "Gateway sync"): fetch the root chain, the timestamp and
// new manifests from the vendor, verify them, wait for each release's ledger confirmations,
// fetch and verify the image into the cache, then publish a new CheckIndex to the device API.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/adapters/swarm.hpp"
#include "common/core/rollout.hpp"
#include "gateway/cache/cache.hpp"
#include "gateway/device_api/check_index.hpp"
#include "gateway/sync/trust_store.hpp"
#include "ledger/client/client.hpp"

namespace fwchain::gateway {

struct PollerConfig {
    std::string vendor_url;
    ledger::LedgerClient* ledger = nullptr;  // the embedded node, or HTTP to one (thin mode)
    std::string gateway_id;
    std::int64_t poll_interval_s = 24 * 3600;  // full vendor poll
    std::int64_t retry_interval_s = 2;         // while a release waits for confirmations
    std::uint32_t confirmations = 2;
    std::uint64_t max_image_size = 1ull << 32;
    Swarm* swarm = nullptr;   // BitTorrent first when set, plain HTTP as the fallback
    std::string torrent_dir;  // .torrent files of cached images, re-seeded at start
    std::int64_t bt_stall_timeout_s = 60;
    // Rollouts (docs/rollouts.md): how often the ledger's evidence (approvals, controls,
    // outcomes) is read again while a release is offered, and the clock of stage times.
    std::int64_t rollout_interval_s = 60;
    std::function<std::int64_t()> rollout_clock;  // null = the system clock
};

// One offered release's rollout as this gateway decided it (GET /v1/health "rollouts").
struct RolloutView {
    std::string product;
    std::string version;
    std::uint64_t sequence = 0;
    RolloutDecision decision;
};

struct PollerStats {
    std::atomic<std::int64_t> fetched_bittorrent{0};
    std::atomic<std::int64_t> fetched_http{0};
    std::atomic<std::int64_t> fetch_failures{0};
};

// The vendor's newer roots and its current timestamp, verified into `trust`.
Status RefreshVendorTimestamp(TrustStore& trust, const std::string& vendor_url, std::int64_t now);

// Headers this far below the tip that a gateway read before are kept rather than read again:
// nodes refuse a reorg this deep (finality_depth, 64 by default).
inline constexpr std::uint64_t kReuseDepth = 128;

// Reads the main-chain headers of `ranges` at chain tip `tip` through `client`. Those `held`
// (a previous read) holds more than kReuseDepth below its tip are kept when the first header
// read above them links to them; otherwise their range is read whole. Fails when the ledger
// reorganises while it is read or sends a malformed or out-of-order header.
Expected<std::shared_ptr<const ProofHeaders>> ReadProofHeaders(ledger::LedgerClient& client,
                                                               const ProofHeaders* held,
                                                               std::uint64_t tip,
                                                               std::vector<HeightRange> ranges);

class Poller {
  public:
    using Publish = std::function<void(std::shared_ptr<const CheckIndex>)>;
    Poller(PollerConfig cfg, TrustStore& trust, ContentCache& cache, Publish publish)
        : cfg_(std::move(cfg)), trust_(trust), cache_(cache), publish_(std::move(publish)) {}

    // Runs until Stop(): a full sync at start and every poll_interval, and the ledger/image
    // steps every retry_interval while some release is not yet offered.
    void Run();
    void Stop();
    // One full pass; returns the first error (later steps still run where they can).
    Status SyncOnce();
    // Publishes the index from what is verified, confirmed and cached now.
    void PublishIndex();
    // Seeds every cached image whose torrent is kept (after a restart).
    void SeedCached();
    const PollerStats& stats() const { return stats_; }
    // The rollout decisions of the releases this gateway holds, newest first per product.
    std::vector<RolloutView> Rollouts();

  private:
    struct LedgerRecord {
        std::uint32_t confirmations = 0;
        Json proof_part = nullptr;  // {"tx","height","proof"} once mined
        std::string tx_id;
    };

    Status SyncVendor();
    Status AdvanceReleases();  // confirmations, downloads
    // Confirms `r` on the ledger and caches its image; then it is offered (subject to its
    // rollout).
    Status ConfirmAndCache(const Release& r);
    // Releases of a product looked at below the newest (older ones never win once one reaches
    // every device).
    static constexpr std::size_t kMaxFallback = 4;
    Expected<LedgerRecord> FindOnLedger(const Release& r);
    // Reads the headers device proofs of `offers` need (ProofRanges) and the admissions of
    // their miners, and publishes them when they changed.
    Status SyncProofHeaders(const Envelope& timestamp, const std::vector<Offer>& offers);
    Status ReadProofHeaders(std::uint64_t tip, std::vector<HeightRange> ranges);
    // Reads the ledger's rollout evidence for each product with an offered release and decides.
    Status UpdateRollouts();
    Status SyncAdmissions();
    Status Download(const Release& r);
    Status DownloadHttp(const Release& r);
    Expected<std::string> FetchTorrent(const Release& r);
    Status DownloadSwarm(const Release& r, const std::string& torrent);
    // Keeps the torrent of a cached image and seeds it.
    Status KeepSeeding(const Release& r, const std::string& torrent);

    PollerConfig cfg_;
    TrustStore& trust_;
    ContentCache& cache_;
    Publish publish_;
    std::set<std::string> offered_;              // manifest hashes that are confirmed and cached
    std::map<std::string, Json> ledger_proofs_;  // manifest hash -> {"tx","height","proof"}
    // The headers proofs need, shared with the device API (replaced when they change).
    std::shared_ptr<const ProofHeaders> published_headers_;
    std::string proof_tip_;                  // the tip hash they were read at
    std::vector<HeightRange> proof_ranges_;  // and the ranges read
    Admissions admissions_;                  // miner key hex -> admission
    std::set<std::string> no_admission_;     // genesis miners (no admit tx)
    std::shared_ptr<const Admissions> published_admissions_;

    std::map<std::string, std::string> release_txs_;       // manifest hash -> release tx id
    std::map<std::string, std::string> release_tx_hints_;  // the same, as the vendor named it
    std::uint64_t ledger_token_ = 0;                       // the tip last seen (TipToken)
    std::map<std::string, RolloutDecision> decisions_;     // manifest hash -> decision
    std::map<std::string, Json> approval_proofs_;  // approve tx id -> {"tx","height","proof"}
    std::map<std::string, Json> approval_parts_;   // manifest hash -> its approvals' proofs
    std::chrono::steady_clock::time_point next_rollouts_{};  // next evidence read
    std::mutex decisions_mu_;                                // guards published_rollouts_
    std::vector<RolloutView> published_rollouts_;

    PollerStats stats_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::atomic<bool> cancel_{false};
};

}  // namespace fwchain::gateway
