#include "ledger/net/peers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <deque>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"
#include "common/core/memory.hpp"
#include "ledger/chain/prefetch.hpp"
#include "ledger/consensus/pow.hpp"

namespace fwchain::ledger {

namespace {

// Errors that mean "the block is bad", as opposed to "we already have it", "we lack its
// parent", "it would reorg too deep" or a local failure.
bool IsInvalidInput(const Error& e) {
    return e.code == Errc::kVerify || e.code == Errc::kInvalid || e.code == Errc::kUnauthorized ||
           e.code == Errc::kTooLarge;
}

http::ClientOptions ClientOpts(const PeerOptions& o) {
    http::ClientOptions co;
    co.connect_timeout_s = o.connect_timeout_s;
    co.read_timeout_s = o.read_timeout_s;
    co.write_timeout_s = o.read_timeout_s;
    return co;
}

struct ParsedHeader {
    BlockHeader header;
    Hash256 hash{};
};

// One entry of a GET /v1/headers answer, or nullopt when it is not a header.
std::optional<ParsedHeader> ParseHeaderEntry(const Json& h) {
    auto bytes = FromHex(h.is_object() ? h.value("header", std::string()) : "");
    if (!bytes || bytes->size() != kHeaderSize) return std::nullopt;
    ParsedHeader p;
    p.header = BlockHeader::Deserialize(bytes->data());
    p.hash = p.header.Hash();
    return p;
}

}  // namespace

Expected<std::string> NormalizePeerUrl(const std::string& url) {
    FW_ASSIGN(http::Url u, http::ParseUrl(url));
    if (u.scheme != "http" && u.scheme != "https") {
        return Fail(Errc::kInvalid, "bad-peer", "peer URL must be http(s)://host:port");
    }
    return u.Origin() + u.base_path;
}

PeerManager::PeerManager(Chain& chain, PeerOptions opts) : chain_(chain), opts_(std::move(opts)) {}

PeerManager::~PeerManager() { Stop(); }

void PeerManager::Start() {
    gossip_thread_ = std::thread([this] { GossipLoop(); });
    sync_thread_ = std::thread([this] { SyncLoop(); });
}

void PeerManager::Stop() {
    {
        MutexLock lock(mu_);
        stopping_ = true;
    }
    queue_cv_.notify_all();
    sync_cv_.notify_all();
    if (gossip_thread_.joinable()) gossip_thread_.join();
    if (sync_thread_.joinable()) sync_thread_.join();
}

Expected<bool> PeerManager::Add(const std::string& url) {
    FW_ASSIGN(std::string norm, NormalizePeerUrl(url));
    if (!opts_.self_url.empty() && norm == opts_.self_url) return false;
    bool added = false;
    {
        MutexLock lock(mu_);
        if (peers_.count(norm) == 0) {
            peers_[norm] = PeerInfo{norm, 0, ""};
            added = true;
        }
    }
    if (added) {
        spdlog::info("peer {} added", norm);
        if (!opts_.self_url.empty()) {
            // So that a link made on one side works both ways (gossip reaches us too).
            Enqueue(Item{"/v1/peers", Canonical(Json{{"url", opts_.self_url}}), norm});
        }
        TriggerSync();
    }
    return added;
}

std::vector<PeerInfo> PeerManager::List() {
    MutexLock lock(mu_);
    std::vector<PeerInfo> out;
    for (const auto& [url, info] : peers_) out.push_back(info);
    return out;
}

void PeerManager::Ban(const std::string& url, const std::string& reason) {
    MutexLock lock(mu_);
    auto it = peers_.find(url);
    if (it == peers_.end()) return;
    it->second.banned_until = NowSeconds() + opts_.ban_time.count();
    it->second.ban_reason = reason;
    spdlog::warn("peer {} banned for {} s: {}", url, opts_.ban_time.count(), reason);
}

std::vector<std::string> PeerManager::Usable() {
    MutexLock lock(mu_);
    std::vector<std::string> out;
    const std::int64_t now = NowSeconds();
    for (const auto& [url, info] : peers_) {
        if (info.banned_until <= now) out.push_back(url);
    }
    return out;
}

void PeerManager::Enqueue(Item item) {
    {
        MutexLock lock(mu_);
        if (stopping_) return;
        if (queue_.size() >= opts_.gossip_queue_max) queue_.pop_front();
        queue_.push_back(std::move(item));
    }
    queue_cv_.notify_one();
}

void PeerManager::RelayTx(const Json& tx) { Enqueue(Item{"/v1/tx", Canonical(tx), ""}); }

void PeerManager::RelayBlock(std::string canonical_block) {
    Enqueue(Item{"/v1/blocks", std::move(canonical_block), ""});
}

void PeerManager::TriggerSync() {
    {
        MutexLock lock(mu_);
        sync_requested_ = true;
    }
    sync_cv_.notify_all();
}

void PeerManager::GossipLoop() {
    // Clients are per thread (not thread-safe) and kept for keep-alive.
    std::map<std::string, http::Client> clients;
    while (true) {
        Item item;
        {
            UniqueLock lock(mu_);
            queue_cv_.wait(lock, [&]() FW_REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            item = std::move(queue_.front());
            queue_.pop_front();
        }
        std::vector<std::string> targets =
            item.only_to.empty() ? Usable() : std::vector<std::string>{item.only_to};
        for (const auto& url : targets) {
            auto it = clients.find(url);
            if (it == clients.end()) {
                auto c = http::Client::For(url, ClientOpts(opts_));
                if (!c) continue;
                it = clients.emplace(url, std::move(*c)).first;
            }
            auto r = it->second.PostText(item.path, item.body);
            if (!r) {
                // 409 duplicate is the normal end of a gossip wave; other failures only mean
                // this peer catches up later through sync.
                spdlog::debug("gossip {} to {}: {}", item.path, url, r.error().ToString());
                if (r.error().code == Errc::kNetwork) clients.erase(it);
            }
        }
    }
}

void PeerManager::SyncLoop() {
    while (true) {
        {
            UniqueLock lock(mu_);
            sync_cv_.wait_for(lock, opts_.sync_interval,
                              [&]() FW_REQUIRES(mu_) { return stopping_ || sync_requested_; });
            if (stopping_) return;
            sync_requested_ = false;
        }
        auto r = SyncNow();
        if (!r) spdlog::warn("sync: {}", r.error().ToString());
    }
}

Expected<bool> PeerManager::SyncNow() {
    MutexLock run(sync_run_mu_);
    FW_ASSIGN(BlockInfo ours, chain_.Tip());
    struct Candidate {
        std::string url;
        Work work = 0;
        Hash256 hash{};
        std::uint64_t prune_height = 0;  // the peer holds no block bodies up to here
    };
    std::vector<Candidate> heavier;
    std::uint64_t peer_height = 0;
    for (const auto& url : Usable()) {
        auto c = http::Client::For(url, ClientOpts(opts_));
        if (!c) continue;
        auto tip = c->GetJson("/v1/tip", 4096);
        if (!tip) continue;
        auto work = WorkFromHex(tip->value("work", std::string()));
        if (!work) {
            Ban(url, "tip without a valid work field");
            continue;
        }
        auto hash = Hash256FromHex(tip->value("hash", std::string()));
        if (!hash) {
            Ban(url, "tip without a valid hash");
            continue;
        }
        if (const auto h = tip->find("height"); h != tip->end() && h->is_number_unsigned()) {
            peer_height = std::max(peer_height, h->get<std::uint64_t>());
        }
        Candidate cand{url, *work, *hash, 0};
        if (const auto p = tip->find("prune_height"); p != tip->end() && p->is_number_unsigned()) {
            cand.prune_height = p->get<std::uint64_t>();
        }
        // The same order as fork choice: more work, then the lower hash.
        if (*work > ours.work || (*work == ours.work && *hash < ours.hash)) {
            heavier.push_back(std::move(cand));
        }
    }
    best_peer_height_ = peer_height;
    if (heavier.empty()) return false;
    // Peers that hold the blocks we lack first (a pruned peer holds no old bodies), then by
    // fork choice. A pruned peer is still asked for what it holds once we are past its prune
    // height, and when it answers "pruned" the next peer is asked.
    const std::uint64_t need_from = ours.height + 1;
    auto serves = [&](const Candidate& c) { return c.prune_height < need_from; };
    std::stable_sort(heavier.begin(), heavier.end(), [&](const Candidate& a, const Candidate& b) {
        if (serves(a) != serves(b)) return serves(a);
        if (a.work != b.work) return a.work > b.work;
        return a.hash < b.hash;
    });
    std::optional<Error> failure;
    for (const auto& cand : heavier) {
        FW_ASSIGN(BlockInfo now, chain_.Tip());
        if (!(cand.work > now.work || (cand.work == now.work && cand.hash < now.hash))) continue;
        spdlog::info("sync: peer {} has a better tip, fetching headers", cand.url);
        syncing_ = true;
        auto r = SyncFrom(cand.url, cand.prune_height);
        syncing_ = false;
        if (r) continue;
        if (r.error().reason == "pruned") {
            spdlog::info("sync: peer {} is pruned below the blocks we lack; asking another peer",
                         cand.url);
        } else {
            spdlog::warn("sync: from {}: {}", cand.url, r.error().ToString());
        }
        if (!failure) failure = Context(r.error(), "syncing from " + cand.url);
    }
    FW_ASSIGN(BlockInfo after, chain_.Tip());
    if (after.hash == ours.hash && failure) return Fail(*failure);
    return after.hash != ours.hash;
}

Expected<AssumeValidPoint> ParseAssumeValid(const std::string& text) {
    const auto colon = text.find(':');
    AssumeValidPoint p;
    const char* b = text.data();
    auto r = std::from_chars(b, b + (colon == std::string::npos ? 0 : colon), p.height);
    auto hash = colon == std::string::npos ? std::nullopt : Hash256FromHex(text.substr(colon + 1));
    if (colon == std::string::npos || r.ec != std::errc() || r.ptr != b + colon || !hash ||
        p.height == 0) {
        return Fail(Errc::kInvalid, "bad-assume-valid",
                    "--assume-valid must be HEIGHT:HASH (height >= 1, hash 64 hex characters)");
    }
    p.hash = *hash;
    return p;
}

void PeerManager::SetAssumeValid(const AssumeValidPoint& point) {
    MutexLock lock(assume_mu_);
    if (opts_.assume_valid && opts_.assume_valid->hash == point.hash) return;
    opts_.assume_valid = point;
    assumed_.clear();
    spdlog::info("assume-valid checkpoint: block {} at height {}", ToHex(point.hash), point.height);
}

bool PeerManager::Assumed(const Hash256& hash) {
    MutexLock lock(assume_mu_);
    if (assumed_.count(hash) == 0) return false;
    ++assumed_blocks_;
    return true;
}

Status PeerManager::LearnAssumedChain(http::Client& c, const BlockInfo& ours) {
    std::optional<AssumeValidPoint> av;
    {
        MutexLock lock(assume_mu_);
        av = opts_.assume_valid;
        if (!av || ours.height >= av->height) {
            assumed_.clear();  // past it (or none): every block is fully checked
            return {};
        }
        if (assumed_.count(av->hash) != 0) return {};  // learnt from an earlier round
    }
    // The peer's headers from our tip up to the checkpoint: they must link to our tip, to each
    // other and end in the checkpoint's hash, or nothing is assumed (a full check follows).
    const ChainParams& params = chain_.Params();
    std::unordered_set<Hash256, HashOfHash> chain;
    chain.reserve(static_cast<std::size_t>(av->height - ours.height));
    Hash256 prev = ours.hash;
    constexpr std::uint64_t kPage = 2000;
    for (std::uint64_t from = ours.height + 1; from <= av->height;) {
        const std::uint64_t count = std::min(kPage, av->height - from + 1);
        FW_ASSIGN(Json answer, c.GetJson("/v1/headers?from=" + std::to_string(from) +
                                             "&count=" + std::to_string(count),
                                         16 << 20));
        const Json arr = answer.value("headers", Json::array());
        if (arr.empty()) return {};  // the peer's chain is shorter than the checkpoint
        for (const auto& h : arr) {
            auto p = ParseHeaderEntry(h);
            if (!p || p->header.height != from || p->header.prev_hash != prev ||
                !CheckProofOfWork(p->hash, p->header.bits, params)) {
                return {};
            }
            chain.insert(p->hash);
            prev = p->hash;
            ++from;
        }
    }
    if (prev != av->hash) {
        spdlog::warn(
            "the peer's block at the assume-valid height is not the checkpoint's: "
            "checking every signature");
        return {};
    }
    MutexLock lock(assume_mu_);
    assumed_ = std::move(chain);
    spdlog::info(
        "assume-valid: the {} blocks up to height {} are synced without their tx "
        "signatures checked",
        assumed_.size(), av->height);
    return {};
}

Expected<bool> PeerManager::SyncFrom(const std::string& url, std::uint64_t prune_height) {
    FW_ASSIGN(http::Client c, http::Client::For(url, ClientOpts(opts_)));
    FW_ASSIGN(BlockInfo ours, chain_.Tip());
    if (auto st = LearnAssumedChain(c, ours); !st) {
        spdlog::warn("assume-valid headers from {}: {}", url, st.error().ToString());
    }
    const EncodedBlock::AssumeValid below = [this](const Hash256& h) { return Assumed(h); };
    const ChainParams& params = chain_.Params();
    // Start below our tip by the reorg horizon, so the first header is a common ancestor when
    // the peer's chain forked within finality_depth.
    std::uint64_t from =
        ours.height > params.finality_depth ? ours.height - params.finality_depth : 0;
    bool first_page = true;
    Hash256 last_hash{};
    std::uint64_t fetched = 0;
    bool ranged = true;  // the peer answers GET /v1/blocks?hashes=
    while (true) {
        FW_ASSIGN(Json answer, c.GetJson("/v1/headers?from=" + std::to_string(from) +
                                             "&count=" + std::to_string(opts_.headers_per_request),
                                         16 << 20));
        const Json* arr = answer.contains("headers") ? &answer["headers"] : nullptr;
        if (arr == nullptr || !arr->is_array()) {
            Ban(url, "headers answer without a headers array");
            return Fail(Errc::kVerify, "bad-peer", "headers answer malformed");
        }
        if (arr->empty()) break;
        // Headers first: check the whole page links and carries its work before fetching blocks.
        std::vector<ParsedHeader> page;
        for (const auto& h : *arr) {
            auto parsed = ParseHeaderEntry(h);
            if (!parsed) {
                Ban(url, "malformed header");
                return Fail(Errc::kVerify, "bad-peer", "malformed header");
            }
            ParsedHeader p = *parsed;
            const std::uint64_t want_height = from + page.size();
            const bool links = page.empty() ? (first_page || p.header.prev_hash == last_hash)
                                            : p.header.prev_hash == page.back().hash;
            if (p.header.height != want_height || !links ||
                !CheckProofOfWork(p.hash, p.header.bits, params) ||
                p.header.bits < params.initial_bits) {
                Ban(url, "headers do not link or lack proof of work");
                return Fail(Errc::kVerify, "bad-peer", "headers do not link or lack work");
            }
            page.push_back(p);
        }
        if (first_page) {
            FW_ASSIGN(auto anchor, chain_.BlockInfoByHash(ToHex(page.front().hash)));
            if (!anchor) {
                if (from == 0) {
                    Ban(url, "different genesis");
                    return Fail(Errc::kVerify, "wrong-genesis", "peer is on another chain");
                }
                spdlog::critical(
                    "ALERT: peer {} forked more than finality_depth ({}) below our "
                    "tip; not following it",
                    url, params.finality_depth);
                return Fail(Errc::kConflict, "reorg-too-deep", "no common ancestor in range");
            }
        }
        std::vector<Hash256> wanted;
        for (const auto& p : page) {
            FW_ASSIGN(auto known, chain_.BlockInfoByHash(ToHex(p.hash)));
            if (known) continue;
            if (p.header.height <= prune_height) {
                // Its tip said so: ask a peer that holds the body (not the peer's fault).
                return Fail(Errc::kNotFound, "pruned",
                            "peer is pruned through height " + std::to_string(prune_height) +
                                " and we lack block " + std::to_string(p.header.height));
            }
            wanted.push_back(p.hash);
        }
        // The next blocks are fetched and parsed (signatures verified) on other threads while
        // the current batch is connected, several blocks per SQLite transaction. Blocks come
        // several per request; a peer that does not answer that is asked one block at a time.
        std::deque<Json> fetched_page;
        BlockPrefetcher prefetch(
            [&](std::size_t i) -> Expected<std::optional<Json>> {
                if (i >= wanted.size()) return std::optional<Json>();
                if (fetched_page.empty() && ranged) {
                    std::string list;
                    const std::size_t end = std::min(wanted.size(), i + kMaxBlocksPerRequest);
                    for (std::size_t k = i; k < end; ++k) {
                        list += (k > i ? "," : "") + ToHex(wanted[k]);
                    }
                    auto reply = c.GetJson("/v1/blocks?hashes=" + list,
                                           kMaxBlocksAnswer + kMaxBlockSize + 65536);
                    Json* blocks = reply && reply->is_object() && reply->contains("blocks")
                                       ? &(*reply)["blocks"]
                                       : nullptr;
                    if (blocks != nullptr && blocks->is_array() && !blocks->empty() &&
                        blocks->size() <= end - i) {
                        // Moved, not copied: this thread is a serial stage of the sync.
                        for (auto& b : *blocks) fetched_page.push_back(std::move(b));
                    } else if (!reply && reply.error().code == Errc::kNetwork) {
                        return Fail(reply.error());
                    } else {
                        ranged = false;
                    }
                }
                if (!fetched_page.empty()) {
                    Json bj = std::move(fetched_page.front());
                    fetched_page.pop_front();
                    return std::optional<Json>(std::move(bj));
                }
                FW_ASSIGN(Json bj,
                          c.GetJson("/v1/blocks/" + ToHex(wanted[i]), kMaxBlockSize + 65536));
                return std::optional<Json>(std::move(bj));
            },
            kSyncPrefetchDepth, 0, below);
        std::size_t next = 0;
        while (true) {
            auto batch = prefetch.NextBatch(kSyncBatchBlocks);
            if (batch.empty()) break;
            std::vector<EncodedBlock>& blocks = batch.blocks;
            std::optional<Error> failed = batch.error;  // a failed fetch is not the peer's fault
            std::size_t matching = 0;
            while (matching < blocks.size() && blocks[matching].Hash() == wanted[next + matching]) {
                ++matching;
            }
            if (matching < blocks.size() || (batch.error && !batch.fetch_failed)) {
                Ban(url, "block does not match its header");
                blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(matching), blocks.end());
                failed = MakeError(Errc::kVerify, "bad-peer", "block does not match its header");
            }
            next += blocks.size();
            for (auto& r : chain_.SubmitBlocks(blocks, NowSeconds())) {
                if (r) {
                    ++fetched;
                    continue;
                }
                if (r.error().reason == "duplicate-block") continue;
                if (IsInvalidInput(r.error())) Ban(url, "invalid block: " + r.error().ToString());
                return Fail(r.error());
            }
            if (failed) return Fail(*failed);
        }
        first_page = false;
        last_hash = page.back().hash;
        from = page.back().header.height + 1;
        if (page.size() < opts_.headers_per_request) break;
    }
    if (fetched > 0) {
        spdlog::info("sync: {} blocks from {}", fetched, url);
        ReleaseFreeMemory();  // the prefetch's buffers
    }
    return fetched > 0;
}

}  // namespace fwchain::ledger
