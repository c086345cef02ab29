#include "vendor-server/serve.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"
#include "common/adapters/swarm.hpp"
#include "common/core/bytes.hpp"
#include "common/core/fs.hpp"
#include "common/core/tx_bodies.hpp"
#include "ledger/client/client.hpp"
#include "vendor-server/http_api.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/outbox.hpp"

namespace fwchain::vendor {

Expected<Maintainer> Maintainer::Create(const DataDir& dir, std::string ledger_url,
                                        CheckpointPolicy checkpoints) {
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    // Fail at start, not on the first tick, when the key is missing or has loose permissions.
    FW_ASSIGN(auto key, SigningKey::Load(dir.Key(kTimestampRole)));
    (void)key;
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    return Maintainer(dir, std::move(cfg), std::move(catalog), std::move(ledger_url), checkpoints);
}

Maintainer::Maintainer(DataDir dir, VendorConfig cfg, Catalog catalog, std::string ledger_url,
                       CheckpointPolicy checkpoints)
    : checkpoints_(checkpoints),
      dir_(std::move(dir)),
      cfg_(std::move(cfg)),
      catalog_(std::move(catalog)),
      ledger_url_(std::move(ledger_url)) {}

Expected<std::string> LoadAdminToken(const std::string& file) {
    std::string token;
    if (!file.empty()) {
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0) {
            return Fail(Errc::kNotFound, "no-token-file", "cannot read " + file);
        }
        if ((st.st_mode & 077) != 0) {
            return Fail(Errc::kUnauthorized, "token-file-mode",
                        file + " is readable by group or others; chmod 600 it");
        }
        FW_ASSIGN(token, ReadFile(file, 4096));
    } else if (const char* env = std::getenv("FWCHAIN_ADMIN_TOKEN"); env != nullptr) {
        token = env;
    }
    while (!token.empty() &&
           (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
        token.pop_back();
    }
    if (!token.empty() && token.size() < 16) {
        return Fail(Errc::kInvalid, "weak-token", "the admin token must be at least 16 characters");
    }
    return token;
}

Status Maintainer::Tick(std::int64_t now) {
    Status outbox_status;
    if (!ledger_url_.empty()) {
        auto report = SubmitOutbox(catalog_, ledger_url_);
        if (!report) {
            outbox_status = Fail(Context(report.error(), "outbox"));
        } else {
            if (report->accepted > 0) {
                spdlog::info("ledger accepted {} tx(s) from the outbox", report->accepted);
            }
            for (const auto& r : report->rejections) {
                spdlog::error("ledger rejected outbox tx {}", r);
            }
            // Log an outage once, not every second.
            if (report->network_error != last_network_error_) {
                if (!report->network_error.empty()) {
                    spdlog::warn("{} ({} tx(s) pending)", report->network_error, report->pending);
                } else if (!last_network_error_.empty()) {
                    spdlog::info("ledger reachable again");
                }
                last_network_error_ = report->network_error;
            }
        }
    }
    LedgerFacts facts;
    if (!ledger_url_.empty()) {
        auto read = ReadLedgerFacts();
        if (read) {
            facts = std::move(*read);
        } else if (outbox_status) {
            outbox_status = Fail(Context(read.error(), "ledger checkpoint"));
        }
    }
    auto refreshed = RefreshTimestamp(dir_, catalog_, now, cfg_.timestamp_lifetime, &facts);
    if (!refreshed) return Fail(Context(refreshed.error(), "timestamp"));
    if (*refreshed) spdlog::info("timestamp re-signed");
    return outbox_status;
}

Expected<LedgerFacts> Maintainer::ReadLedgerFacts() {
    LedgerFacts facts;
    FW_ASSIGN(auto ts, LoadTimestamp(dir_));
    if (!ts) return facts;
    FW_ASSIGN(auto ledger, ledger::ConnectLedger(ledger_url_));
    FW_ASSIGN(auto tip, ledger->Tip());
    if (tip.height < checkpoints_.margin) return facts;
    const std::uint64_t deep = tip.height - checkpoints_.margin;
    if (!ts->checkpoint || deep >= ts->checkpoint->height + checkpoints_.interval) {
        FW_ASSIGN(auto list, ledger->Headers(deep, 1));
        if (list.size() == 1) {
            auto point =
                LedgerPoint::FromJson(Json{{"height", list[0].height}, {"hash", list[0].hash}});
            if (point && point->height == deep) facts.checkpoint = *point;
        }
    }
    // The blocks of named releases, once they are as deep as the checkpoint would be: a device
    // then anchors the proof of an old release at its block, however long the chain has grown.
    for (const auto& [product, by_seq] : ts->manifests) {
        bool missing = false;
        for (const auto& [seq, entry] : by_seq) missing = missing || !entry.block;
        if (!missing) continue;
        ledger::TxSearch q;
        q.type = txtype::kRelease;
        q.product = product;
        q.limit = kTimestampManifests * 4;
        FW_ASSIGN(auto found, ledger->Search(q));
        for (const auto& item : found.results) {
            if (!item.height || !item.block_hash || item.confirmations <= checkpoints_.margin) {
                continue;
            }
            auto body = item.tx.is_object() ? item.tx.find("body") : item.tx.end();
            if (body == item.tx.end()) continue;
            auto release = ReleaseTxBody::Parse(*body);
            auto point =
                LedgerPoint::FromJson(Json{{"height", *item.height}, {"hash", *item.block_hash}});
            if (release && point) facts.release_blocks[release->manifest_sha256] = *point;
        }
    }
    return facts;
}

namespace {

// Keeps SIGTERM/SIGINT for sigtimedwait(): blocked in every thread created after this.
sigset_t StopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
}

// Seeds every release image of the data dir not seeded yet: at start, and on each tick for
// releases `publish` (another process) has added since.
void SeedReleases(const DataDir& dir, Swarm& swarm, const std::string& announce,
                  std::set<std::string>& seeded) {
    std::error_code ec;
    const std::string suffix = ".torrent";
    for (auto it = std::filesystem::directory_iterator(dir.TorrentsDir(), ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        const std::string file = it->path().filename().string();
        if (file.size() != 64 + suffix.size() || file.substr(64) != suffix) continue;
        const std::string sha = file.substr(0, 64);
        if (seeded.count(sha) || !IsHex(sha, 32) || !FileExists(dir.Image(sha))) continue;
        seeded.insert(sha);  // once: a torrent that does not load is reported, not retried
        auto bytes = ReadFile(dir.Torrent(sha), 16 << 20);
        Status st =
            bytes ? swarm.Seed(*bytes, dir.ImagesDir(), {announce}) : Status(Fail(bytes.error()));
        if (!st) {
            spdlog::error("cannot seed image {} over BitTorrent: {}", sha, st.error().ToString());
        } else {
            spdlog::info("seeding image {} over BitTorrent", sha.substr(0, 16));
        }
    }
}

}  // namespace

Status Serve(const ServeOptions& opts) {
    const sigset_t stop_signals = StopSignals();
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto hp, http::ParseHostPort(opts.listen));
    FW_ASSIGN(auto maintainer, Maintainer::Create(dir, opts.ledger_url, opts.checkpoints));
    ApiConfig api_cfg;
    api_cfg.public_url = opts.public_url;
    api_cfg.tracker_interval = opts.tracker_interval;
    FW_ASSIGN(api_cfg.admin_token, LoadAdminToken(opts.admin_token_file));
    api_cfg.tls_cert = opts.tls_cert;
    api_cfg.tls_key = opts.tls_key;
    api_cfg.ledger_peers = opts.ledger_peers;
    if (api_cfg.ledger_peers.empty()) api_cfg.ledger_peers.push_back(opts.ledger_url);
    http::ServerOptions http_opts = opts.http;
    if (!http_opts.metrics) http_opts.metrics = std::make_shared<metrics::Registry>();
    // The vendor seeds its releases over BitTorrent itself, each piece going out about once (the
    // gateways pass it on); the web seed is the gateways' fallback.
    std::unique_ptr<Swarm> swarm;
    if (!opts.no_bittorrent) {
        SwarmOptions so;
        so.listen = opts.bt_listen;
        so.seed_each_piece_once = true;
        FW_ASSIGN(swarm, Swarm::Start(so));
        auto stat = [s = swarm.get()](std::int64_t SwarmStats::*field) {
            return [s, field] { return static_cast<double>(s->Stats().*field); };
        };
        http_opts.metrics->AddCounterFn("fwchain_vendor_swarm_uploaded_bytes_total",
                                        "Image payload bytes the vendor's seeder uploaded.",
                                        stat(&SwarmStats::payload_uploaded));
        http_opts.metrics->AddGaugeFn(
            "fwchain_vendor_swarm_torrents", "Release images the vendor's seeder seeds.",
            [s = swarm.get()] { return static_cast<double>(s->Stats().torrents); });
    }
    FW_ASSIGN(auto api, ApiServer::Create(dir, http_opts, api_cfg));
    FW_ASSIGN(int port, api->Bind(hp.first, hp.second));
    const std::string announce = api->public_url() + "/announce";
    std::set<std::string> seeded;
    if (swarm) {
        spdlog::info("BitTorrent seeder on port {}", swarm->port());
        SeedReleases(dir, *swarm, announce, seeded);
    }
    // Tests and scripts parse this line; flush so it is seen before anything else happens.
    std::cout << "listening on " << hp.first << ":" << port << std::endl;
    spdlog::info("serving {} on {}:{} (public URL {}, admin API {})", dir.Root(), hp.first, port,
                 api->public_url(), api_cfg.admin_token.empty() ? "off" : "on");
    if (opts.ledger_url.empty()) spdlog::warn("no --ledger: outbox txs are not delivered");

    std::atomic<bool> stopping{false};
    std::atomic<bool> run_returned{false};
    std::mutex mu;
    std::condition_variable cv;

    std::thread worker([&] {
        std::unique_lock<std::mutex> lock(mu);
        while (!stopping) {
            lock.unlock();
            if (auto st = maintainer.Tick(NowSeconds()); !st) {
                spdlog::error("{}", st.error().ToString());
            }
            if (swarm) SeedReleases(dir, *swarm, announce, seeded);
            lock.lock();
            cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping.load(); });
        }
    });

    std::thread signals([&] {
        const timespec poll{0, 200 * 1000 * 1000};
        while (!run_returned) {
            const int sig = sigtimedwait(&stop_signals, nullptr, &poll);
            if (sig > 0 && !stopping) {
                spdlog::info("signal {}: stopping", sig);
                {
                    std::lock_guard<std::mutex> lock(mu);
                    stopping = true;
                }
                cv.notify_all();
            }
            if (stopping) api->Stop();
        }
    });

    api->Run();
    run_returned = true;
    {
        std::lock_guard<std::mutex> lock(mu);
        stopping = true;
    }
    cv.notify_all();
    worker.join();
    signals.join();
    spdlog::info("stopped");
    return {};
}

}  // namespace fwchain::vendor
