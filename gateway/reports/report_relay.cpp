#include "gateway/reports/report_relay.hpp"

#include <thread>

#include "common/adapters/log.hpp"
#include "common/core/fs.hpp"

namespace fwchain::gateway {

namespace {
const std::vector<std::string> kMigrations = {
    "CREATE TABLE device_counters (device_key TEXT PRIMARY KEY, counter INTEGER NOT NULL);",
    // The devices whose signed reports this gateway relayed (`gateway status`, pruning).
    "CREATE TABLE devices_seen (device TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, "
    "last_seen INTEGER NOT NULL);",
};
constexpr auto kMinRefresh = std::chrono::seconds(1);
}  // namespace

Expected<std::unique_ptr<ReportRelay>> ReportRelay::Open(const std::string& db_path,
                                                         ledger::LedgerClient& ledger) {
    FW_ASSIGN(sql::Db db, sql::Db::Open(db_path));
    FW_TRY(db.Migrate(kMigrations));
    std::unique_ptr<ReportRelay> relay(new ReportRelay(std::move(db), ledger));
    FW_ASSIGN(auto s, relay->db_.Prepare("SELECT device FROM devices_seen"));
    for (;;) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        relay->seen_.insert(s.Text(0));
    }
    return relay;
}

Status ReportRelay::RefreshRegistry() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_refresh_ < kMinRefresh) {
        // Bounds the ledger load that unknown ids can cause; the device retries later.
        return Fail(Errc::kNetwork, "registry-refreshing",
                    "the device registry was refreshed less than a second ago; retry");
    }
    last_refresh_ = now;
    FW_ASSIGN(auto keys, ledger_.Registry("device"));
    std::map<std::string, Admission> fresh;
    for (auto& k : keys) fresh[k.key] = Admission{std::move(k.subject), k.revoked};
    registry_ = std::move(fresh);
    return {};
}

void ReportRelay::NoteDevice(const std::string& device) {
    if (!seen_.insert(device).second) return;  // the common case: no write per report
    auto s = db_.Prepare(
        "INSERT OR IGNORE INTO devices_seen (device, first_seen, last_seen) VALUES (?, ?, ?)");
    const std::int64_t now = NowSeconds();
    if (s) s->Bind(1, device).Bind(2, now).Bind(3, now);
    if (auto st = s ? s->Run() : Status(Fail(s.error())); !st) {
        spdlog::warn("recording device {}: {}", device, st.error().ToString());
    }
    if (on_device_) on_device_(device);
}

std::uint64_t ReportRelay::DevicesSeen() {
    std::lock_guard lock(mu_);
    return seen_.size();
}

std::vector<std::string> ReportRelay::Devices() {
    std::lock_guard lock(mu_);
    return {seen_.begin(), seen_.end()};
}

Expected<RelayResult> ReportRelay::Relay(const Json& body) {
    FW_ASSIGN(Tx tx, ParseTx(body));
    if (tx.type != txtype::kUpdate && tx.type != txtype::kStatus) {
        return Fail(Errc::kInvalid, "wrong-type", "a report must be an update or status tx");
    }
    std::unique_lock lock(mu_);
    if (registry_stale_ && std::chrono::steady_clock::now() >= last_refresh_ + kMinRefresh) {
        registry_stale_ = !RefreshRegistry();
    }
    auto it = registry_.find(tx.sender);
    if (it == registry_.end()) {
        // A device admitted since the last refresh. Refreshes stay at most one a second (each
        // is a ledger read), but within that window the report waits for the next one instead
        // of being refused: two devices admitted a moment apart both get their first report
        // through. The lock is not held while waiting.
        const auto next = last_refresh_ + kMinRefresh;
        if (std::chrono::steady_clock::now() < next) {
            lock.unlock();
            std::this_thread::sleep_until(next);  // pacing of ledger reads
            lock.lock();
            it = registry_.find(tx.sender);
        }
        if (it == registry_.end()) {
            auto refreshed = RefreshRegistry();
            // Another report may have refreshed it meanwhile: look again before giving up.
            it = registry_.find(tx.sender);
            if (!refreshed && it == registry_.end()) {
                return Fail(Context(refreshed.error(), "reading the device registry"));
            }
        }
    }
    if (it == registry_.end()) {
        return Fail(Errc::kUnauthorized, "unknown-device",
                    "device key " + tx.sender.substr(0, 16) + "… is not admitted on the ledger");
    }
    if (it->second.revoked) {
        return Fail(Errc::kUnauthorized, "revoked", "device " + it->second.subject + " is revoked");
    }
    if (it->second.subject != tx.recipient) {
        return Fail(
            Errc::kUnauthorized, "wrong-device",
            "the report names device " + tx.recipient + " but is signed by " + it->second.subject);
    }
    NoteDevice(tx.recipient);
    auto submitted = ledger_.Submit(tx.ToJson());
    if (!submitted) {
        const Error& e = submitted.error();
        if (e.code == Errc::kNetwork) {
            return Fail(Errc::kNetwork, "ledger-unreachable",
                        "relaying the report to " + ledger_.Where() + ": " + e.message);
        }
        if (e.code == Errc::kUnauthorized) {
            // The ledger no longer counts this key as a device (revoked since our copy was
            // read): read the registry again, so the next report is refused here without a
            // ledger call. (At most one read a second: a read that must wait is done by the
            // next report.)
            registry_stale_ = !RefreshRegistry();
        }
        return Fail(e.code, e.reason, "the ledger refused the report: " + e.message);
    }
    RelayResult out;
    out.id = tx.Id();
    out.message = submitted->message;
    switch (submitted->kind) {
        case ledger::SubmitResult::Kind::kAccepted:
            spdlog::info("relayed {} report of {} ({} {})", tx.type, tx.recipient, tx.state,
                         tx.ver);
            return out;
        case ledger::SubmitResult::Kind::kDuplicate:
            out.kind = RelayResult::Kind::kDuplicate;
            return out;
        case ledger::SubmitResult::Kind::kStaleNonce:
            out.kind = RelayResult::Kind::kStaleCounter;
            out.last_counter = submitted->last_nonce.value_or(0);
            spdlog::info("report of {} has counter {}, the ledger holds {}: asking it to resync",
                         tx.recipient, tx.nonce, out.last_counter);
            return out;
    }
    return out;
}

}  // namespace fwchain::gateway
