#include "vendor-server/http_api.hpp"

#include <charconv>

#include "common/adapters/log.hpp"
#include "common/core/bytes.hpp"
#include "common/core/fs.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {
namespace {

// ?since=N, strictly decimal; absent = 0.
std::optional<std::uint64_t> SinceParam(const httplib::Request& req) {
    if (!req.has_param("since")) return std::uint64_t{0};
    const std::string v = req.get_param_value("since");
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
    return n;
}

}  // namespace

Expected<std::unique_ptr<ApiServer>> ApiServer::Create(const DataDir& dir,
                                                       const http::ServerOptions& opts) {
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    (void)cfg;
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    auto server = http::MakeServer(opts);
    std::unique_ptr<ApiServer> api(new ApiServer(dir, std::move(catalog), std::move(server)));
    api->Routes();
    return api;
}

ApiServer::ApiServer(DataDir dir, Catalog catalog, std::unique_ptr<httplib::Server> server)
    : dir_(std::move(dir)), catalog_(std::move(catalog)), server_(std::move(server)) {}

Expected<int> ApiServer::Bind(const std::string& host, int port) {
    return http::Bind(*server_, host, port);
}

bool ApiServer::Run() { return server_->listen_after_bind(); }

void ApiServer::Stop() { server_->stop(); }

void ApiServer::Routes() {
    auto& s = *server_;
    s.Get("/v1/health", [](const httplib::Request&, httplib::Response& res) {
        http::SendJson(res, Json{{"status", "ok"}});
    });
    s.Get("/v1/roots", [this](const httplib::Request& q, httplib::Response& r) { GetRoots(q, r); });
    s.Get("/v1/timestamp",
          [this](const httplib::Request& q, httplib::Response& r) { GetTimestamp(q, r); });
    s.Get(R"(/v1/manifests/([^/]+))",
          [this](const httplib::Request& q, httplib::Response& r) { GetManifests(q, r); });
    s.Get(R"(/v1/images/(.+))",
          [this](const httplib::Request& q, httplib::Response& r) { GetImage(q, r); });
}

void ApiServer::GetRoots(const httplib::Request& req, httplib::Response& res) {
    auto since = SinceParam(req);
    if (!since) return http::SendError(res, 400, "bad-request", "since must be an integer");
    auto versions = RootVersions(dir_);
    if (!versions) return http::SendError(res, versions.error());
    // Stored roots are our own canonical files: splice them without re-parsing.
    std::string body = "{\"roots\":[";
    bool first = true;
    for (std::uint64_t v : *versions) {
        if (v <= *since) continue;
        auto text = ReadFile(dir_.RootFile(v));
        if (!text) return http::SendError(res, text.error());
        if (!first) body += ',';
        body += *text;
        first = false;
    }
    body += "]}";
    http::SendJsonText(res, std::move(body));
}

void ApiServer::GetTimestamp(const httplib::Request&, httplib::Response& res) {
    auto text = ReadFile(dir_.TimestampFile());
    if (!text) return http::SendError(res, text.error());
    // Clients must not cache the freshness document.
    res.set_header("Cache-Control", "no-store");
    http::SendJsonText(res, std::move(*text));
}

void ApiServer::GetManifests(const httplib::Request& req, httplib::Response& res) {
    const std::string product = req.matches[1];
    if (!ValidName(product)) return http::SendError(res, 400, "bad-product", "invalid product");
    auto since = SinceParam(req);
    if (!since) return http::SendError(res, 400, "bad-request", "since must be an integer");
    Expected<std::vector<ReleaseRow>> rows = std::vector<ReleaseRow>{};
    {
        std::lock_guard<std::mutex> lock(catalog_mu_);
        rows = catalog_.Releases(product, *since);
    }
    if (!rows) return http::SendError(res, rows.error());
    std::string body = "{\"manifests\":[";
    for (std::size_t i = 0; i < rows->size(); ++i) {
        auto text = ReadFile(dir_.ManifestFile(product, (*rows)[i].sequence));
        if (!text) {
            spdlog::error("manifest {} {} listed in the catalog is unreadable: {}", product,
                          (*rows)[i].sequence, text.error().ToString());
            return http::SendError(res, text.error());
        }
        if (i > 0) body += ',';
        body += *text;
    }
    body += "]}";
    http::SendJsonText(res, std::move(body));
}

void ApiServer::GetImage(const httplib::Request& req, httplib::Response& res) {
    // Only a 64-char lowercase hex name ever reaches the filesystem: no "..", no "/", no
    // encoded tricks, and never a file outside images/.
    const std::string name = req.matches[1];
    if (!IsHex(name, 32)) {
        return http::SendError(res, 404, "not-found", "no such image");
    }
    const std::string path = dir_.Image(name);
    if (!FileExists(path)) return http::SendError(res, 404, "not-found", "no such image");
    auto st = http::ServeFile(req, res, path);
    if (!st) http::SendError(res, st.error());
}

}  // namespace fwchain::vendor
