#include "gateway/reports/report_relay.hpp"

#include <thread>

#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"

namespace fwchain::gateway {

namespace {
const std::vector<std::string> kMigrations = {
    "CREATE TABLE device_counters (device_key TEXT PRIMARY KEY, counter INTEGER NOT NULL);",
};
constexpr auto kMinRefresh = std::chrono::seconds(1);
}  // namespace

Expected<std::unique_ptr<ReportRelay>> ReportRelay::Open(const std::string& db_path,
                                                         const std::string& ledger_url) {
    FW_ASSIGN(sql::Db db, sql::Db::Open(db_path));
    FW_TRY(db.Migrate(kMigrations));
    return std::unique_ptr<ReportRelay>(new ReportRelay(std::move(db), ledger_url));
}

Status ReportRelay::RefreshRegistry() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_refresh_ < kMinRefresh) {
        // Bounds the ledger load that unknown ids can cause; the device retries later.
        return Fail(Errc::kNetwork, "registry-refreshing",
                    "the device registry was refreshed less than a second ago; retry");
    }
    last_refresh_ = now;
    FW_ASSIGN(auto client, http::Client::For(ledger_url_));
    FW_ASSIGN(Json reg, client.GetJson("/v1/registry?role=device", 64 << 20));
    FW_ASSIGN(const Json* keys, GetArray(reg, "keys"));
    std::map<std::string, Admission> fresh;
    for (const auto& k : *keys) {
        auto key = GetString(k, "key");
        auto subject = GetString(k, "subject");
        if (!key || !subject) continue;
        fresh[*key] = Admission{*subject, k.value("revoked", false)};
    }
    registry_ = std::move(fresh);
    return {};
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
    if (on_device_) on_device_(tx.recipient);
    // The ledger's 409 bodies tell a held tx ("duplicate") from a stale counter
    // ("replayed-nonce" with "last_nonce"); the plain client keeps only the reason.
    FW_ASSIGN(auto client, http::Client::For(ledger_url_));
    const std::string text = Canonical(tx.ToJson());
    auto res = client.Send("POST", "/v1/tx", &text, {}, 64 << 10);
    if (!res) {
        return Fail(Errc::kNetwork, "ledger-unreachable",
                    "relaying the report to " + ledger_url_ + ": " + res.error().message);
    }
    RelayResult out;
    out.id = tx.Id();
    if (res->status >= 200 && res->status < 300) {
        spdlog::info("relayed {} report of {} ({} {})", tx.type, tx.recipient, tx.state, tx.ver);
        return out;
    }
    auto answer = ParseJson(res->body, 64 << 10);
    std::string reason = "ledger-http-" + std::to_string(res->status);
    std::string message = "the ledger answered HTTP " + std::to_string(res->status);
    if (answer && answer->is_object()) {
        if (auto r = GetString(*answer, "error")) reason = *r;
        if (auto m = GetString(*answer, "message")) message = *m;
    }
    out.message = message;
    if (res->status == 409 && reason == "duplicate") {
        out.kind = RelayResult::Kind::kDuplicate;
        return out;
    }
    if (res->status == 409 && reason == "replayed-nonce") {
        out.kind = RelayResult::Kind::kStaleCounter;
        if (answer && answer->is_object()) {
            if (auto last = GetUint(*answer, "last_nonce")) out.last_counter = *last;
        }
        spdlog::info("report of {} has counter {}, the ledger holds {}: asking it to resync",
                     tx.recipient, tx.nonce, out.last_counter);
        return out;
    }
    if (res->status == 403) {
        // The ledger no longer counts this key as a device (revoked since our copy was read):
        // read the registry again, so the next report is refused here without a ledger call.
        // (At most one read a second: a read that must wait is done by the next report.)
        registry_stale_ = !RefreshRegistry();
    }
    const Errc code = res->status == 409                           ? Errc::kConflict
                      : (res->status == 401 || res->status == 403) ? Errc::kUnauthorized
                      : res->status >= 500                         ? Errc::kNetwork
                                                                   : Errc::kInvalid;
    return Fail(code, reason, "the ledger refused the report: " + message);
}

}  // namespace fwchain::gateway
