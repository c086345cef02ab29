#pragma once
// The vendor server's public HTTP API (docs/protocol.md "Vendor server HTTP API"). Every request
// reads the catalog and the metadata files afresh, so releases published by a concurrent
// `vendor-server publish` are visible as soon as its catalog transaction commits.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/adapters/http_server.hpp"
#include "common/core/metrics.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/tracker.hpp"

namespace fwchain::vendor {

struct ApiConfig {
    // Base URL clients reach this server at (web seed and tracker URLs in served .torrent
    // files). Empty: http://HOST:PORT of the bound listener.
    std::string public_url;
    std::int64_t tracker_interval = 1800;  // seconds between announces; peers expire after 2x
    // Bearer token of the admin API (POST /v1/admin/releases); empty = admin API disabled.
    std::string admin_token;
    // TLS: both set = HTTPS (PEM files).
    std::string tls_cert;
    std::string tls_key;
    // Ledger node URLs served at GET /v1/ledger-peers (gateways' bootstrap).
    std::vector<std::string> ledger_peers;
};

class ApiServer {
  public:
    // Opens its own catalog connection (handlers share it under a mutex).
    static Expected<std::unique_ptr<ApiServer>> Create(const DataDir& dir,
                                                       const http::ServerOptions& opts = {},
                                                       ApiConfig config = {});

    // Binds host:port (0 = any free port) and returns the bound port.
    Expected<int> Bind(const std::string& host, int port);
    // Blocks until Stop(). Serving starts at Bind.
    void Run();
    // Safe from any thread; makes Run return.
    void Stop();

    const std::string& public_url() const { return config_.public_url; }
    Tracker& tracker() { return tracker_; }

  private:
    ApiServer(DataDir dir, Catalog catalog, ApiConfig config, std::uint64_t max_image_size);
    http::Router Routes();
    void GetRoots(const http::Request& req, http::Response& res);
    void GetTimestamp(const http::Request& req, http::Response& res);
    void GetManifests(const http::Request& req, http::Response& res);
    void GetImage(const http::Request& req, http::Response& res);
    void GetTorrent(const http::Request& req, http::Response& res);
    void Announce(const http::Request& req, http::Response& res);
    bool Authorized(const http::Request& req, http::Response& res);
    std::unique_ptr<http::UploadStream> OpenUpload(const http::Request& req, http::Response& res);
    void ExportMetrics(metrics::Registry& registry);

    DataDir dir_;
    std::mutex catalog_mu_;
    Catalog catalog_;
    std::unique_ptr<http::Server> server_;
    ApiConfig config_;
    std::uint64_t max_image_size_;
    Tracker tracker_;
    std::string scheme_ = "http";
    metrics::Counter publishes_ok_, publishes_failed_, image_bytes_, announces_;
    metrics::Counter admin_ok_, admin_refused_;
};

// Constant-time comparison of a presented bearer token with the expected one (both hashed
// first, so neither the content nor the length leaks through timing).
bool TokenMatches(const std::string& presented, const std::string& expected);

}  // namespace fwchain::vendor
