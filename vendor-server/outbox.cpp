#include "vendor-server/outbox.hpp"

#include "ledger/client/client.hpp"

namespace fwchain::vendor {

Json SubmitReport::ToJson() const {
    Json j{{"accepted", accepted},
           {"rejected", rejected},
           {"pending", pending},
           {"rejections", rejections}};
    if (!network_error.empty()) j["network_error"] = network_error;
    return j;
}

Expected<SubmitReport> SubmitOutbox(Catalog& catalog, const std::string& ledger_url) {
    SubmitReport report;
    FW_ASSIGN(auto rows, catalog.PendingOutbox());
    if (rows.empty()) return report;
    auto connected = ledger::ConnectLedger(ledger_url);
    if (!connected) return Fail(Context(connected.error(), "ledger url"));
    ledger::LedgerClient& ledger = **connected;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const OutboxRow& row = rows[i];
        auto json = ParseJson(row.tx_json, 1 << 20);
        auto submitted = json ? ledger.Submit(*json) : Expected<ledger::SubmitResult>(json.error());
        if (submitted) {
            const bool duplicate = submitted->kind == ledger::SubmitResult::Kind::kDuplicate;
            FW_TRY(catalog.MarkOutbox(row.tx_id, outbox::kAccepted, duplicate ? "duplicate" : ""));
            ++report.accepted;
        } else if (submitted.error().code != Errc::kNetwork) {
            // The ledger refused the tx itself: it will not take it on a retry either.
            const std::string why = submitted.error().ToString();
            FW_TRY(catalog.MarkOutbox(row.tx_id, outbox::kRejected, why));
            report.rejections.push_back(row.tx_id + " (" + row.type + "): " + why);
            ++report.rejected;
        } else {
            report.network_error = "ledger " + ledger_url + ": " + submitted.error().ToString();
            FW_TRY(catalog.CountAttempt(row.tx_id, report.network_error));
            report.pending = rows.size() - i;
            break;
        }
    }
    return report;
}

}  // namespace fwchain::vendor
