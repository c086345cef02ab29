#include "gateway/device_api/device_api.hpp"

#include "common/core/bytes.hpp"

namespace fwchain::gateway {

namespace {
constexpr std::size_t kMaxCheckBody = 4096;
constexpr std::size_t kMaxReportBody = kMaxTxSize + 1024;
}  // namespace

void DeviceApi::Register(http::Router& routes) {
    // Check and image answers are built without blocking (a pre-serialised string, a file
    // descriptor): they run on the event threads. Reports wait for the ledger: a worker.
    http::RouteOptions check{http::Exec::kInline, kMaxCheckBody, true};
    routes.Post(
        "/v1/check", [this](const auto& req, auto& res) { HandleCheck(req, res); }, check);
    routes.Get("/v1/images/([0-9a-f]{64})",
               [this](const auto& req, auto& res) { HandleImage(req, res); },
               {http::Exec::kInline});
    routes.Post("/v1/report", [this](const auto& req, auto& res) { HandleReport(req, res); },
                {http::Exec::kWorker, kMaxReportBody, true});
    routes.Get("/v1/health", [this](const auto&, auto& res) {
        auto index = Index();
        Json health = status_ ? status_() : Json::object();
        health["status"] = index ? "ok" : "syncing";
        health["offers"] = index ? index->offer_count() : 0;
        http::SendJson(res, health);
    });
}

void DeviceApi::ExportMetrics(metrics::Registry& m) {
    m.AddCounterFn("fwchain_gateway_checks_total", "Update checks answered.", checks_);
    const std::string images = "fwchain_gateway_image_requests_total";
    const std::string images_help = "Image requests: hit = served from the cache, miss = 404.";
    m.AddCounterFn(images, images_help, images_hit_, {{"result", "hit"}});
    m.AddCounterFn(images, images_help, images_miss_, {{"result", "miss"}});
    m.AddCounterFn("fwchain_gateway_image_bytes_served_total",
                   "Bytes of image responses started (whole images or ranges).", image_bytes_);
    const std::string reports = "fwchain_gateway_reports_total";
    const std::string reports_help =
        "Device reports: relayed to the ledger, duplicate (already held), refused (invalid, "
        "stale counter, or the ledger refused).";
    m.AddCounterFn(reports, reports_help, reports_relayed_, {{"result", "relayed"}});
    m.AddCounterFn(reports, reports_help, reports_duplicate_, {{"result", "duplicate"}});
    m.AddCounterFn(reports, reports_help, reports_refused_, {{"result", "refused"}});
}

void DeviceApi::Publish(std::shared_ptr<const CheckIndex> index) {
    std::lock_guard lock(mu_);
    index_ = std::move(index);
}

std::shared_ptr<const CheckIndex> DeviceApi::Index() {
    std::lock_guard lock(mu_);
    return index_;
}

void DeviceApi::HandleCheck(const http::Request& req, http::Response& res) {
    // The hot path: a check is unsigned and its fields are read with typed getters, so the plain
    // parser is enough (the strict one's per-token callback costs more than the rest of the
    // request); the server's body limit bounds the input.
    if (req.body.size() > kMaxCheckBody) {
        http::SendError(res, 413, "too-large", "check request too large");
        return;
    }
    auto body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
        http::SendError(res, 400, "malformed-json", "check request is not JSON");
        return;
    }
    auto product = GetString(body, "product");
    auto hardware = GetString(body, "hardware");
    auto sequence = GetUint(body, "sequence");
    auto root_version = GetUint(body, "root_version");
    if (!product || !hardware || !sequence || !root_version) {
        http::SendError(res, 400, "bad-request",
                        "check needs product, hardware, sequence and root_version");
        return;
    }
    checks_.Inc();
    // Unauthenticated, like the whole check: it only places the device in a rollout stage, and
    // a device that lies about it can only get a release early, never a forged one.
    std::string device_id;
    if (auto id = body.find("device_id"); id != body.end() && id->is_string()) {
        device_id = id->get<std::string>();
    }
    auto index = Index();
    if (!index) {
        http::SendError(res, 503, "not-ready", "the gateway has not synced with its vendor yet");
        return;
    }
    auto proof = body.find("ledger_proof");
    if (proof != body.end() && proof->is_boolean() && proof->get<bool>()) {
        std::uint64_t checkpoint = 0;
        if (auto cp = GetObject(body, "ledger_checkpoint")) {
            checkpoint = GetUint(**cp, "height") ? *GetUint(**cp, "height") : 0;
        }
        res.SetContent(index->AnswerWithProof(*product, *hardware, *sequence, *root_version,
                                              checkpoint, device_id),
                       "application/json");
        return;
    }
    // Copies a pre-serialised answer: no disk, ledger or signature work on this path.
    res.SetContent(index->Answer(*product, *hardware, *sequence, *root_version, device_id),
                   "application/json");
}

void DeviceApi::HandleImage(const http::Request& req, http::Response& res) {
    const std::string sha = req.matches[1];
    if (!cache_.Pin(sha)) {
        images_miss_.Inc();
        http::SendError(res, 404, "not-found", "image " + sha + " is not in this gateway's cache");
        return;
    }
    auto st = http::ServeFile(req, res, cache_.PathOf(sha), "application/octet-stream",
                              [this, sha] { cache_.Unpin(sha); });
    if (!st) {
        http::SendError(res, st.error());
        return;
    }
    images_hit_.Inc();
    if (res.file()) image_bytes_.Inc(res.file()->length);
}

void DeviceApi::HandleReport(const http::Request& req, http::Response& res) {
    auto body = http::ReadJsonBody(req, res, kMaxReportBody);
    if (!body) return;
    auto relayed = relay_.Relay(*body);
    if (!relayed) {
        reports_refused_.Inc();
        http::SendError(res, relayed.error());
        return;
    }
    switch (relayed->kind) {
        case RelayResult::Kind::kRelayed:
            reports_relayed_.Inc();
            http::SendJson(res, Json{{"id", relayed->id}}, 202);
            return;
        case RelayResult::Kind::kDuplicate:
            reports_duplicate_.Inc();
            http::SendJson(res,
                           Json{{"error", "duplicate"},
                                {"id", relayed->id},
                                {"message", "the ledger already holds this report"}},
                           409);
            return;
        case RelayResult::Kind::kStaleCounter:
            reports_refused_.Inc();
            http::SendJson(res,
                           Json{{"error", "stale-counter"},
                                {"id", relayed->id},
                                {"last_counter", relayed->last_counter},
                                {"message", relayed->message}},
                           409);
            return;
    }
}

}  // namespace fwchain::gateway
