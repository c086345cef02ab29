#include "gateway/reports/report_relay.hpp"

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

Expected<std::uint64_t> ReportRelay::LastCounter(const std::string& device_key) {
    FW_ASSIGN(auto q, db_.Prepare("SELECT counter FROM device_counters WHERE device_key = ?"));
    q.Bind(1, device_key);
    FW_ASSIGN(bool row, q.Step());
    return row ? static_cast<std::uint64_t>(q.Int(0)) : 0;
}

Expected<std::string> ReportRelay::Relay(const Json& body) {
    FW_ASSIGN(Tx tx, ParseTx(body));
    if (tx.type != txtype::kUpdate && tx.type != txtype::kStatus) {
        return Fail(Errc::kInvalid, "wrong-type", "a report must be an update or status tx");
    }
    std::lock_guard lock(mu_);
    auto it = registry_.find(tx.sender);
    if (it == registry_.end()) {
        auto refreshed = RefreshRegistry();
        if (!refreshed) return Fail(Context(refreshed.error(), "reading the device registry"));
        it = registry_.find(tx.sender);
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
    FW_ASSIGN(std::uint64_t last, LastCounter(tx.sender));
    if (tx.nonce <= last) {
        return Fail(
            Errc::kConflict, "replayed",
            "report counter " + std::to_string(tx.nonce) + " is not above " + std::to_string(last));
    }
    FW_ASSIGN(auto client, http::Client::For(ledger_url_));
    auto sent = client.PostJson("/v1/tx", tx.ToJson());
    if (!sent && sent.error().code != Errc::kConflict) return Fail(sent.error());
    FW_ASSIGN(auto upd, db_.Prepare("INSERT INTO device_counters(device_key, counter) VALUES(?, ?) "
                                    "ON CONFLICT(device_key) DO UPDATE SET counter = "
                                    "excluded.counter"));
    upd.Bind(1, tx.sender).Bind(2, static_cast<std::int64_t>(tx.nonce));
    FW_TRY(upd.Run());
    if (!sent) return Fail(sent.error());  // the ledger already holds it
    spdlog::info("relayed {} report of {} ({} {})", tx.type, tx.recipient, tx.state, tx.ver);
    return tx.Id();
}

}  // namespace fwchain::gateway
