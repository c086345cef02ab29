#include "vendor-server/outbox.hpp"

#include "common/adapters/http.hpp"

namespace fwchain::vendor {

Json SubmitReport::ToJson() const {
    Json j{{"accepted", accepted},
           {"rejected", rejected},
           {"pending", pending},
           {"rejections", rejections}};
    if (!network_error.empty()) j["network_error"] = network_error;
    return j;
}

namespace {

// "reason: message" from a ledger error body, or the raw status when it is not our format.
std::string ErrorText(int status, const std::string& body) {
    auto j = ParseJson(body, 64 << 10);
    if (j && j->is_object()) {
        auto reason = GetString(*j, "error");
        auto message = GetString(*j, "message");
        if (reason) return *reason + (message ? ": " + *message : std::string());
    }
    return "HTTP " + std::to_string(status);
}

}  // namespace

Expected<SubmitReport> SubmitOutbox(Catalog& catalog, const std::string& ledger_url) {
    SubmitReport report;
    FW_ASSIGN(auto rows, catalog.PendingOutbox());
    if (rows.empty()) return report;
    auto url = http::ParseUrl(ledger_url);
    if (!url) return Fail(Context(url.error(), "ledger url"));
    http::Client client(*url);
    const std::string path = "/v1/tx";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const OutboxRow& row = rows[i];
        auto res = client.Send("POST", path, &row.tx_json, {}, 1 << 20);
        if (!res) {
            report.network_error = "ledger " + ledger_url + " unreachable: " + res.error().message;
            FW_TRY(catalog.CountAttempt(row.tx_id, report.network_error));
            report.pending = rows.size() - i;
            break;
        }
        const int status = res->status;
        if (status == 200 || status == 201 || status == 202 || status == 409) {
            FW_TRY(
                catalog.MarkOutbox(row.tx_id, outbox::kAccepted, status == 409 ? "duplicate" : ""));
            ++report.accepted;
        } else if (status >= 400 && status < 500 && status != 408 && status != 429) {
            const std::string why = ErrorText(status, res->body);
            FW_TRY(catalog.MarkOutbox(row.tx_id, outbox::kRejected, why));
            report.rejections.push_back(row.tx_id + " (" + row.type + "): " + why);
            ++report.rejected;
        } else {
            report.network_error =
                "ledger " + ledger_url + " answered " + ErrorText(status, res->body);
            FW_TRY(catalog.CountAttempt(row.tx_id, report.network_error));
            report.pending = rows.size() - i;
            break;
        }
    }
    return report;
}

}  // namespace fwchain::vendor
