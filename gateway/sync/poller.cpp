#include "gateway/sync/poller.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"
#include "common/core/fs.hpp"
#include "common/core/memory.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::gateway {

namespace {

// A tx's inclusion as devices check it (docs/protocol.md "Ledger proofs for devices").
Json ProofPart(const ledger::TxView& v) {
    return Json{
        {"tx", v.tx}, {"height", v.height ? Json(*v.height) : Json(nullptr)}, {"proof", v.proof}};
}

}  // namespace

void Poller::Run() {
    auto next_full = std::chrono::steady_clock::now();
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        const bool full = now >= next_full;
        Status st = full ? SyncOnce() : AdvanceReleases();
        if (full) next_full = now + std::chrono::seconds(cfg_.poll_interval_s);
        if (!st) spdlog::warn("sync: {}", st.error().ToString());
        PublishIndex();
        // What a pass freed (its answers' JSON, and the node's sync buffers in between) goes
        // back to the system rather than staying in the malloc arenas (an access point's memory).
        if (full) ReleaseFreeMemory();

        bool waiting = false;
        for (const auto& [product, by_seq] : trust_.releases()) {
            if (!by_seq.empty() && !offered_.count(by_seq.rbegin()->second.ManifestHash())) {
                waiting = true;
            }
        }
        auto wake = waiting || !st ? std::chrono::steady_clock::now() +
                                         std::chrono::seconds(cfg_.retry_interval_s)
                                   : next_full;
        // Offered releases: their rollouts move with the ledger and the clock.
        if (!offered_.empty()) wake = std::min(wake, next_rollouts_);
        if (!st) next_full = std::min(next_full, wake);  // retry a failed poll soon
        if (waiting && st) {
            // Confirmations come with blocks: woken by the ledger's next tip (at once with the
            // embedded node; a thin gateway reads the tip when the retry interval ends).
            const auto until = std::min(wake, next_full);
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() > 0)
                ledger_token_ = cfg_.ledger->WaitForTipChange(ledger_token_, left);
            std::lock_guard lock(mu_);
            if (stop_) return;
            continue;
        }
        std::unique_lock lock(mu_);
        if (cv_.wait_until(lock, std::min(wake, next_full), [&] { return stop_; })) return;
    }
}

void Poller::Stop() {
    cancel_ = true;
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
    if (cfg_.ledger) cfg_.ledger->Interrupt();
}

Status Poller::SyncOnce() {
    Status vendor = SyncVendor();
    Status releases = AdvanceReleases();
    if (!vendor) return vendor;
    return releases;
}

Status RefreshVendorTimestamp(TrustStore& trust, const std::string& vendor_url, std::int64_t now) {
    FW_ASSIGN(auto vendor, http::Client::For(vendor_url));
    FW_ASSIGN(Json roots,
              vendor.GetJson("/v1/roots?since=" + std::to_string(trust.root().version)));
    FW_ASSIGN(const Json* list, GetArray(roots, "roots"));
    std::vector<Envelope> newer;
    for (const auto& r : *list) {
        FW_ASSIGN(Envelope env, ParseEnvelope(r));
        newer.push_back(std::move(env));
    }
    if (!newer.empty()) FW_TRY(trust.AcceptRoots(newer, now));

    FW_ASSIGN(Json ts_json, vendor.GetJson("/v1/timestamp"));
    FW_ASSIGN(Envelope ts_env, ParseEnvelope(ts_json));
    auto accepted = trust.AcceptTimestamp(ts_env, now);
    if (!accepted) return Fail(Context(accepted.error(), "vendor timestamp refused"));
    return {};
}

Status Poller::SyncVendor() {
    const std::int64_t now = NowSeconds();
    FW_TRY(RefreshVendorTimestamp(trust_, cfg_.vendor_url, now));
    FW_ASSIGN(auto vendor, http::Client::For(cfg_.vendor_url));

    Status result;
    for (const auto& [product, latest] : trust_.timestamp()->latest) {
        const std::uint64_t known = trust_.LatestKnown(product);
        if (known >= latest) continue;
        FW_ASSIGN(Json answer,
                  vendor.GetJson("/v1/manifests/" + product + "?since=" + std::to_string(known)));
        FW_ASSIGN(const Json* manifests, GetArray(answer, "manifests"));
        // The ids of their release txs, when the vendor names them: a hint the ledger's
        // answer is checked against, not trusted.
        const Json tx_ids = answer.value("release_txs", Json::array());
        for (std::size_t i = 0; i < manifests->size(); ++i) {
            const Json& m = (*manifests)[i];
            auto env = ParseEnvelope(m);
            auto r = env ? trust_.AcceptRelease(*env, now) : Expected<Release>(env.error());
            if (!r) {
                spdlog::warn("refused a {} manifest from the vendor: {}", product,
                             r.error().ToString());
                result = Fail(r.error());
                continue;
            }
            spdlog::info("verified release {} {} (sequence {})", r->product, r->version,
                         r->sequence);
            if (i < tx_ids.size() && tx_ids[i].is_string() &&
                IsHex(tx_ids[i].get<std::string>(), 32)) {
                release_tx_hints_[r->ManifestHash()] = tx_ids[i].get<std::string>();
            }
        }
    }
    return result;
}

Expected<Poller::LedgerRecord> Poller::FindOnLedger(const Release& r) {
    ledger::LedgerClient& ledger = *cfg_.ledger;
    const std::string manifest_hash = r.ManifestHash();
    // Whether `tx_json` is this release's tx, by a release key of our root, with the policy of
    // the manifest (a lying ledger node cannot make a forged record count).
    auto matches = [&](const Json& tx_json) -> std::optional<Tx> {
        auto tx = ParseTx(tx_json);
        if (!tx || tx->type != txtype::kRelease || tx->verifier != r.image.sha256) {
            return std::nullopt;
        }
        auto body = ReleaseTxBody::Parse(tx->body);
        if (!body || body->manifest_sha256 != manifest_hash) return std::nullopt;
        if (body->rollout != r.rollout || body->min_approvals != r.min_approvals) {
            // The ledger shows one policy and devices would get another: offer neither.
            spdlog::error("release {} {}: the release tx's rollout differs from the manifest's",
                          r.product, r.version);
            return std::nullopt;
        }
        auto sender = PublicKeyFromHex(tx->sender);
        if (!sender || !trust_.root().HasRoleKey("release", *sender)) return std::nullopt;
        return std::optional<Tx>(std::move(*tx));
    };
    // A release tx is asked for by its id: the one the vendor named with the manifest, else
    // the one a search found. One small answer per round while it waits for confirmations.
    auto known = release_txs_.find(manifest_hash);
    if (known == release_txs_.end()) {
        if (auto hint = release_tx_hints_.find(manifest_hash); hint != release_tx_hints_.end()) {
            known = release_txs_.emplace(manifest_hash, hint->second).first;
            release_tx_hints_.erase(hint);  // tried once; a wrong one falls back to the search
        }
    }
    if (known == release_txs_.end()) {
        ledger::TxSearch q;
        q.type = txtype::kRelease;
        q.product = r.product;
        q.limit = 32;
        for (int page = 0; page < 32; ++page) {  // newest first, 32 at a time, at most 1,024
            FW_ASSIGN(auto answer, ledger.Search(q));
            for (const auto& item : answer.results) {
                if (auto tx = matches(item.tx)) {
                    known = release_txs_.emplace(manifest_hash, tx->Id()).first;
                    break;
                }
            }
            if (known != release_txs_.end() || !answer.next_cursor) break;
            q.cursor = *answer.next_cursor;
        }
        if (known == release_txs_.end()) return LedgerRecord{};
    }
    FW_ASSIGN(auto status, ledger.GetTx(known->second));
    if (!status || !matches(status->tx)) {
        // Not there (yet, or reorged away), or not what we took it for: search next round.
        release_txs_.erase(known);
        return LedgerRecord{};
    }
    LedgerRecord rec;
    rec.tx_id = status->id;
    rec.confirmations = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(status->confirmations, std::numeric_limits<std::uint32_t>::max()));
    // The Merkle path devices may ask for (require_ledger_proof).
    if (rec.confirmations > 0 && status->height) rec.proof_part = ProofPart(*status);
    return rec;
}

Status Poller::SyncProofHeaders(const Envelope& timestamp, const std::vector<Offer>& offers) {
    FW_ASSIGN(auto tip, cfg_.ledger->Tip());
    auto ranges = ProofRanges(timestamp, offers, tip.height, published_admissions_.get());
    if (tip.hash == proof_tip_ && ranges == proof_ranges_) return {};
    FW_TRY(ReadProofHeaders(tip.height, ranges));
    // New miners in these headers bring their admissions, whose blocks proofs may carry too.
    FW_TRY(SyncAdmissions());
    auto with_admissions = ProofRanges(timestamp, offers, tip.height, published_admissions_.get());
    if (with_admissions != ranges) FW_TRY(ReadProofHeaders(tip.height, with_admissions));
    proof_tip_ = tip.hash;
    proof_ranges_ = std::move(with_admissions);
    return {};
}

Expected<std::shared_ptr<const ProofHeaders>> ReadProofHeaders(ledger::LedgerClient& client,
                                                               const ProofHeaders* held,
                                                               std::uint64_t tip,
                                                               std::vector<HeightRange> ranges) {
    // Headers this far below the tip that were read before are kept (a reorg this deep is
    // refused by the nodes: finality_depth, 64 by default); the rest is read again, and the
    // first header read must link to the one kept below it, else the whole range is read.
    constexpr std::size_t kBatch = 2000;  // as GET /v1/headers
    std::sort(ranges.begin(), ranges.end(),
              [](const HeightRange& x, const HeightRange& y) { return x.first < y.first; });
    std::vector<HeightRange> merged;
    for (const auto& r : ranges) {
        if (!merged.empty() && r.first <= merged.back().last + 1) {
            merged.back().last = std::max(merged.back().last, r.last);
        } else {
            merged.push_back(r);
        }
    }
    auto next = std::make_shared<ProofHeaders>();
    next->tip = tip;
    auto read = [&](std::uint64_t from, std::uint64_t last) -> Status {
        while (from <= last) {
            const auto count =
                static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, last - from + 1));
            FW_ASSIGN(auto list, client.Headers(from, count));
            if (list.empty()) {
                return Fail(Errc::kNetwork, "headers-missing",
                            "the ledger has no header at height " + std::to_string(from));
            }
            for (const auto& h : list) {
                if (from > last) break;
                auto bytes = FromHex(h.header);
                auto sig = SignatureFromHex(h.miner_sig);
                if (!bytes || bytes->size() != ledger::kHeaderSize || !sig) {
                    return Fail(Errc::kInvalid, "bad-header", "the ledger sent a malformed header");
                }
                auto header = ledger::BlockHeader::Deserialize(bytes->data());
                if (header.height != from) {
                    return Fail(Errc::kInvalid, "bad-header",
                                "the ledger sent headers out of order");
                }
                if (const ChainHeader* below = next->Find(from - 1);
                    from > 0 && below != nullptr &&
                    ledger::BlockHeader::Deserialize(below->header.data()).Hash() !=
                        header.prev_hash) {
                    return Fail(Errc::kNetwork, "reorg",
                                "the ledger reorganised while its headers were read");
                }
                ChainHeader entry;
                std::copy(bytes->begin(), bytes->end(), entry.header.begin());
                entry.miner_sig = *sig;
                next->by_height.emplace(from, entry);
                ++from;
            }
        }
        return {};
    };
    for (const auto& r : merged) {
        std::uint64_t from = r.first;
        if (held != nullptr) {
            while (from <= r.last && from + kReuseDepth <= held->tip) {
                const ChainHeader* kept = held->Find(from);
                if (kept == nullptr) break;
                next->by_height.emplace(from, *kept);
                ++from;
            }
        }
        Status st = read(from, r.last);
        if (!st && from != r.first && st.error().reason == "reorg") {
            // What was kept is no longer the main chain: read the whole range again.
            for (auto h = r.first; h < from; ++h) next->by_height.erase(h);
            st = read(r.first, r.last);
        }
        FW_TRY(st);
    }
    return std::shared_ptr<const ProofHeaders>(std::move(next));
}

Status Poller::ReadProofHeaders(std::uint64_t tip, std::vector<HeightRange> ranges) {
    FW_ASSIGN(auto next, gateway::ReadProofHeaders(*cfg_.ledger, published_headers_.get(), tip,
                                                   std::move(ranges)));
    if (!published_headers_ || *published_headers_ != *next) published_headers_ = std::move(next);
    return {};
}

Status Poller::SyncAdmissions() {
    // Each miner's admission, looked up once when a new miner appears in the proofs' headers
    // (devices check them, docs/protocol.md "Ledger proofs for devices"). Genesis miners have
    // no admit tx.
    std::set<std::string> wanted;
    if (published_headers_) {
        for (const auto& [height, h] : published_headers_->by_height) {
            const std::string miner =
                ToHex(ledger::BlockHeader::Deserialize(h.header.data()).miner);
            if (!admissions_.count(miner) && !no_admission_.count(miner)) wanted.insert(miner);
        }
    }
    if (wanted.empty()) return {};
    ledger::LedgerClient& ledger = *cfg_.ledger;
    ledger::TxSearch q;
    q.type = txtype::kAdmit;
    q.limit = 1000;
    Admissions found = admissions_;
    for (int page = 0; page < 100 && !wanted.empty(); ++page) {
        FW_ASSIGN(auto answer, ledger.Search(q));
        for (const auto& item : answer.results) {
            auto body = item.tx.is_object() ? item.tx.find("body") : item.tx.end();
            if (body == item.tx.end()) continue;
            auto admit = AdmitTxBody::Parse(*body);
            if (!admit || admit->role != kRoleGateway || !wanted.count(admit->key)) continue;
            const std::string key = admit->key;
            FW_ASSIGN(auto status, ledger.GetTx(item.id));
            if (!status || !status->height) continue;
            found[key] = ProofPart(*status);
            wanted.erase(key);
        }
        if (!answer.next_cursor) break;
        q.cursor = *answer.next_cursor;
    }
    for (const auto& miner : wanted) no_admission_.insert(miner);
    if (found != admissions_) {
        admissions_ = std::move(found);
        published_admissions_ = std::make_shared<const Admissions>(admissions_);
    }
    return {};
}

Status Poller::Download(const Release& r) {
    if (r.image.size > cfg_.max_image_size) {
        return Fail(Errc::kTooLarge, "image-too-large",
                    "image of " + r.version + " exceeds the gateway's limit");
    }
    std::string torrent;  // the image's .torrent, once the vendor gave it
    if (cfg_.swarm && r.torrent) {
        auto got = FetchTorrent(r);
        Status st = got ? DownloadSwarm(r, *got) : Status(Fail(got.error()));
        if (got) torrent = std::move(*got);
        if (st) {
            ++stats_.fetched_bittorrent;
            return st;
        }
        spdlog::warn("BitTorrent fetch of {} {} failed ({}); falling back to HTTP", r.product,
                     r.version, st.error().ToString());
    }
    Status st = DownloadHttp(r);
    if (!st) {
        ++stats_.fetch_failures;
        return st;
    }
    // An image that came over HTTP is seeded like any other: the next gateway need not ask the
    // vendor for it. Counted once its seeding has started, so that whoever sees the fetch in
    // /v1/health also sees the torrent (a test read the count between the two and failed).
    if (cfg_.swarm && r.torrent) {
        if (torrent.empty()) {
            auto got = FetchTorrent(r);
            if (got) torrent = std::move(*got);
        }
        Status seeded =
            torrent.empty()
                ? Status(Fail(Errc::kNetwork, "no-torrent", "the vendor's torrent is unavailable"))
                : KeepSeeding(r, torrent);
        if (!seeded) {
            spdlog::warn("cannot seed {} {} fetched over HTTP: {}", r.product, r.version,
                         seeded.error().ToString());
        }
    }
    ++stats_.fetched_http;
    return st;
}

Expected<std::string> Poller::FetchTorrent(const Release& r) {
    FW_ASSIGN(auto vendor, http::Client::For(cfg_.vendor_url));
    return vendor.GetText("/v1/torrents/" + r.image.sha256 + ".torrent", 16 << 20);
}

Status Poller::DownloadSwarm(const Release& r, const std::string& torrent) {
    FW_TRY(cfg_.swarm->Fetch(torrent, cache_.partial_dir(),
                             std::chrono::seconds(cfg_.bt_stall_timeout_s), cancel_));
    // libtorrent checked every piece against the torrent; Commit checks the signed SHA-256 and
    // moves the file into the cache while the torrent stays in the session (its upload counts
    // and its peers carry on into seeding).
    FW_TRY(cfg_.swarm->Handover(torrent, cache_.dir(),
                                [&] { return cache_.Commit(r.image.sha256, r.image.size); }));
    if (!cfg_.torrent_dir.empty()) {
        FW_TRY(WriteFileAtomic(cfg_.torrent_dir + "/" + r.image.sha256 + ".torrent", torrent));
    }
    return {};
}

Status Poller::KeepSeeding(const Release& r, const std::string& torrent) {
    if (!cfg_.torrent_dir.empty()) {
        FW_TRY(WriteFileAtomic(cfg_.torrent_dir + "/" + r.image.sha256 + ".torrent", torrent));
    }
    return cfg_.swarm->Seed(torrent, cache_.dir());
}

void Poller::SeedCached() {
    if (!cfg_.swarm || cfg_.torrent_dir.empty()) return;
    for (const auto& [product, by_seq] : trust_.releases()) {
        for (const auto& [seq, r] : by_seq) {
            if (!cache_.Has(r.image.sha256)) continue;
            auto torrent = ReadFile(cfg_.torrent_dir + "/" + r.image.sha256 + ".torrent", 16 << 20);
            if (!torrent) continue;
            auto st = cfg_.swarm->Seed(*torrent, cache_.dir());
            if (!st) spdlog::warn("cannot seed {}: {}", r.image.sha256, st.error().ToString());
        }
    }
}

Status Poller::DownloadHttp(const Release& r) {
    FW_ASSIGN(http::Url url, http::ParseUrl(cfg_.vendor_url));
    http::Client vendor(url, http::ClientOptions{5, 60, 30});
    const std::string partial = cache_.PartialPathOf(r.image.sha256);
    int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return Fail(Errc::kIo, "io", "cannot create " + partial + ": " + std::strerror(errno));
    std::uint64_t received = 0;
    bool overflow = false, write_failed = false;
    int status = 0;
    auto res = vendor.GetStream(
        "/v1/images/" + r.image.sha256, {},
        [&](const http::Reply& head) {
            status = head.status;
            return status == 200;
        },
        [&](const char* data, std::size_t n) {
            if (received + n > r.image.size) {  // endless-data defence
                overflow = true;
                return false;
            }
            for (std::size_t off = 0; off < n;) {
                ssize_t w = ::write(fd, data + off, n - off);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    write_failed = true;
                    return false;
                }
                off += static_cast<std::size_t>(w);
            }
            received += n;
            return true;
        });
    bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (overflow) {
        ::unlink(partial.c_str());
        return Fail(Errc::kVerify, "endless-data", "vendor sent more than the manifest size");
    }
    if (write_failed || !synced) {
        ::unlink(partial.c_str());
        return Fail(Errc::kIo, "io", "cannot write " + partial);
    }
    if (!res || status != 200) {
        ::unlink(partial.c_str());
        return Fail(Errc::kNetwork, "download-failed",
                    "image " + r.image.sha256.substr(0, 12) + " from the vendor: " +
                        (status != 0 && status != 200 ? "HTTP " + std::to_string(status)
                                                      : res.error().message));
    }
    return cache_.Commit(r.image.sha256, r.image.size);
}

Status Poller::ConfirmAndCache(const Release& r) {
    const std::string hash = r.ManifestHash();
    FW_ASSIGN(LedgerRecord record, FindOnLedger(r));
    if (record.confirmations < cfg_.confirmations) {
        spdlog::info("release {} {} has {}/{} ledger confirmations", r.product, r.version,
                     record.confirmations, cfg_.confirmations);
        return {};
    }
    ledger_proofs_[hash] = record.proof_part;
    release_txs_[hash] = record.tx_id;
    if (!cache_.Has(r.image.sha256)) {
        Status st = Download(r);
        ReleaseFreeMemory();  // the transfer's buffers, whichever way it went
        if (!st) {
            spdlog::warn("fetching {} {}: {}", r.product, r.version, st.error().ToString());
            return st;
        }
        spdlog::info("cached image of {} {} ({} bytes; {} over BitTorrent, {} over HTTP so far)",
                     r.product, r.version, r.image.size, stats_.fetched_bittorrent.load(),
                     stats_.fetched_http.load());
    }
    offered_.insert(hash);
    next_rollouts_ = {};  // decide the new release's rollout now
    return {};
}

Status Poller::AdvanceReleases() {
    Status result;
    for (const auto& [product, by_seq] : trust_.releases()) {
        // Newest first. A device gets the newest release whose rollout offers it to the device
        // (docs/rollouts.md), so older releases matter until one that reaches the whole fleet:
        // a staged, paused or halted newest one leaves the fleet on the one before.
        std::size_t depth = 0;
        for (auto it = by_seq.rbegin(); it != by_seq.rend() && depth < kMaxFallback;
             ++it, ++depth) {
            const Release& r = it->second;
            const std::string hash = r.ManifestHash();
            if (!offered_.count(hash)) {
                Status st = ConfirmAndCache(r);
                if (!st) result = st;
            }
            // Look at an older release only once this one is offered and known not to reach
            // every device: no image is fetched for nothing.
            if (!offered_.count(hash)) break;
            auto decided = decisions_.find(hash);
            if (decided == decisions_.end() || decided->second.percent >= 100) break;
        }
    }
    if (!offered_.empty() && std::chrono::steady_clock::now() >= next_rollouts_) {
        Status rollouts = UpdateRollouts();
        if (!rollouts) {
            spdlog::warn("rollouts: {}", rollouts.error().ToString());
            if (result) result = rollouts;
        }
        next_rollouts_ = std::chrono::steady_clock::now() +
                         std::chrono::seconds(std::max<std::int64_t>(1, cfg_.rollout_interval_s));
    }
    return result;
}

Status Poller::UpdateRollouts() {
    ledger::LedgerClient& ledger = *cfg_.ledger;
    const std::int64_t now = cfg_.rollout_clock ? cfg_.rollout_clock() : NowSeconds();
    const Root& root = trust_.root();
    auto key_has = [&root](const std::string& hex, std::initializer_list<const char*> roles) {
        auto key = PublicKeyFromHex(hex);
        if (!key) return false;
        for (const char* role : roles) {
            if (root.HasRoleKey(role, *key)) return true;
        }
        return false;
    };
    Status result;
    std::map<std::string, RolloutDecision> decided;
    for (const auto& [product, by_seq] : trust_.releases()) {
        bool any = false;
        for (const auto& [seq, r] : by_seq) any = any || offered_.count(r.ManifestHash()) != 0;
        if (!any) continue;
        auto answer = ledger.Rollouts(product);
        if (!answer) {
            result = Fail(answer.error());
            continue;
        }
        auto list = GetArray(*answer, "releases");
        if (!list) {
            result = Fail(list.error());
            continue;
        }
        for (const auto& [seq, r] : by_seq) {
            const std::string hash = r.ManifestHash();
            if (!offered_.count(hash)) continue;
            const Json* entry = nullptr;
            for (const auto& e : **list) {
                if (e.is_object() && e.value("tx", std::string()) == release_txs_[hash]) entry = &e;
            }
            if (entry == nullptr) continue;  // not decided: not offered
            // The evidence, checked against this gateway's own root; the policy is the signed
            // manifest's and the stage comes from this gateway's clock.
            RolloutEvidence ev;
            std::set<std::string> approvers;
            Json approval_parts = Json::array();
            const Json approvals = entry->value("approvals", Json::object());
            const Json by = approvals.value("by", Json::array());
            const Json txs = approvals.value("txs", Json::array());
            for (std::size_t i = 0; i < by.size(); ++i) {
                if (!by[i].is_string() || !key_has(by[i].get<std::string>(), {"approver"}) ||
                    !approvers.insert(by[i].get<std::string>()).second) {
                    continue;
                }
                // Devices that require ledger proofs check each approval's inclusion too.
                if (i >= txs.size() || !txs[i].is_string() || r.min_approvals == 0) continue;
                const std::string id = txs[i].get<std::string>();
                auto cached = approval_proofs_.find(id);
                if (cached == approval_proofs_.end()) {
                    auto st = ledger.GetTx(id);
                    if (st && *st && (*st)->height) {
                        cached = approval_proofs_.emplace(id, ProofPart(**st)).first;
                    }
                }
                if (cached != approval_proofs_.end()) approval_parts.push_back(cached->second);
            }
            ev.approvals = static_cast<std::uint32_t>(approvers.size());
            approval_parts_[hash] = std::move(approval_parts);
            for (const auto& c : entry->value("controls", Json::array())) {
                if (!c.is_object() ||
                    !key_has(c.value("by", std::string()), {"release", "approver"})) {
                    continue;
                }
                ApplyRolloutAction(ev, c.value("action", std::string()));
            }
            if (entry->value("state", std::string()) == PhaseName(RolloutPhase::kHalted)) {
                ev.halted = true;
                ev.halt_reason =
                    entry->value("reason", std::string("halted by the ledger's evidence"));
            }
            const RolloutDecision d =
                DecideRollout(r.rollout ? &*r.rollout : nullptr, r.min_approvals, ev, now);
            auto before = decisions_.find(hash);
            if (before == decisions_.end() || before->second.phase != d.phase ||
                before->second.percent != d.percent) {
                spdlog::info("rollout of {} {}: {} at {}%{}{}", r.product, r.version,
                             PhaseName(d.phase), d.percent, d.reason.empty() ? "" : ": ", d.reason);
            }
            decided[hash] = d;
        }
    }
    for (auto& [hash, d] : decided) decisions_[hash] = d;
    return result;
}

std::vector<RolloutView> Poller::Rollouts() {
    std::lock_guard lock(decisions_mu_);
    return published_rollouts_;
}

void Poller::PublishIndex() {
    const Timestamp* ts = trust_.timestamp();
    if (!ts) return;
    std::vector<Offer> offers;
    std::vector<RolloutView> views;
    for (const auto& [product, by_seq] : trust_.releases()) {
        // Newest first: a device gets the newest release whose stage holds it, so older
        // releases are offered too until one that reaches the whole fleet.
        for (auto it = by_seq.rbegin(); it != by_seq.rend(); ++it) {
            const std::string hash = it->second.ManifestHash();
            if (!offered_.count(hash)) continue;
            auto decision = decisions_.find(hash);
            if (decision == decisions_.end()) continue;
            views.push_back(RolloutView{product, it->second.version, it->first, decision->second});
            if (!decision->second.Offered()) continue;
            auto proof = ledger_proofs_.find(hash);
            Json ledger = proof == ledger_proofs_.end() ? Json(nullptr) : proof->second;
            auto approvals = approval_parts_.find(hash);
            if (ledger.is_object() && approvals != approval_parts_.end() &&
                !approvals->second.empty()) {
                ledger["approvals"] = approvals->second;
            }
            offers.push_back(Offer{product, it->second.hardware, it->first, it->second.envelope,
                                   std::move(ledger), decision->second.percent});
            if (decision->second.percent >= 100) break;
        }
    }
    if (Status st = SyncProofHeaders(ts->envelope, offers); !st) {
        // The headers held so far stay; a proof that needs one it lacks is not sent.
        spdlog::warn("ledger headers for device proofs: {}", st.error().ToString());
    }
    // The index first, then the rollouts /v1/health shows: whoever sees a stage there finds its
    // devices offered (a test saw the stage before the index while headers were being read).
    publish_(std::make_shared<const CheckIndex>(cfg_.gateway_id, trust_.roots(), ts->envelope,
                                                offers, published_headers_, published_admissions_));
    std::lock_guard lock(decisions_mu_);
    published_rollouts_ = std::move(views);
}

}  // namespace fwchain::gateway
