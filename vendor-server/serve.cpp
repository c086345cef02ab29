#include "vendor-server/serve.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/adapters/log.hpp"
#include "common/core/fs.hpp"
#include "vendor-server/http_api.hpp"
#include "vendor-server/metadata_store.hpp"
#include "vendor-server/outbox.hpp"

namespace fwchain::vendor {

Expected<Maintainer> Maintainer::Create(const DataDir& dir, std::string ledger_url) {
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    FW_ASSIGN(auto key, SigningKey::Load(dir.Key(kTimestampRole)));
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    return Maintainer(dir, std::move(cfg), std::move(catalog), std::move(key),
                      std::move(ledger_url));
}

Maintainer::Maintainer(DataDir dir, VendorConfig cfg, Catalog catalog, SigningKey timestamp_key,
                       std::string ledger_url)
    : dir_(std::move(dir)),
      cfg_(std::move(cfg)),
      catalog_(std::move(catalog)),
      timestamp_key_(std::move(timestamp_key)),
      ledger_url_(std::move(ledger_url)) {}

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
    auto refreshed = RefreshTimestamp(dir_, catalog_, timestamp_key_, now, cfg_.timestamp_lifetime);
    if (!refreshed) return Fail(Context(refreshed.error(), "timestamp"));
    if (*refreshed) spdlog::info("timestamp re-signed");
    return outbox_status;
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

}  // namespace

Status Serve(const ServeOptions& opts) {
    const sigset_t stop_signals = StopSignals();
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    const DataDir dir(opts.data_dir);
    FW_ASSIGN(auto hp, http::ParseHostPort(opts.listen));
    FW_ASSIGN(auto maintainer, Maintainer::Create(dir, opts.ledger_url));
    FW_ASSIGN(auto api, ApiServer::Create(dir));
    FW_ASSIGN(int port, api->Bind(hp.first, hp.second));
    // Tests and scripts parse this line; flush so it is seen before anything else happens.
    std::cout << "listening on " << hp.first << ":" << port << std::endl;
    spdlog::info("serving {} on {}:{}", dir.Root(), hp.first, port);
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
            // Repeated: httplib ignores stop() until its accept loop has started.
            if (stopping) api->Stop();
        }
    });

    const bool served = api->Run();
    const bool stopped_by_signal = stopping;
    run_returned = true;
    {
        std::lock_guard<std::mutex> lock(mu);
        stopping = true;
    }
    cv.notify_all();
    worker.join();
    signals.join();
    if (!served && !stopped_by_signal) {
        return Fail(Errc::kNetwork, "serve-failed", "the HTTP accept loop failed");
    }
    spdlog::info("stopped");
    return {};
}

}  // namespace fwchain::vendor
