#pragma once
// The gateway's LAN API for devices: POST /v1/check, GET /v1/images/{sha256}, POST /v1/report.
#include <functional>
#include <memory>
#include <mutex>

#include "common/adapters/http_server.hpp"
#include "common/core/metrics.hpp"
#include "gateway/cache/cache.hpp"
#include "gateway/device_api/check_index.hpp"
#include "gateway/reports/report_relay.hpp"

namespace fwchain::gateway {

class DeviceApi {
  public:
    DeviceApi(ContentCache& cache, ReportRelay& relay) : cache_(cache), relay_(relay) {}
    void Register(http::Router& routes);
    void Publish(std::shared_ptr<const CheckIndex> index);
    // Extra fields for GET /v1/health (fetch counters, swarm figures).
    void SetStatusProvider(std::function<Json()> provider) { status_ = std::move(provider); }
    // Exports the API's counters (fwchain_gateway_checks_total, images, reports) to `registry`,
    // which must not outlive this object's server.
    void ExportMetrics(metrics::Registry& registry);

  private:
    std::shared_ptr<const CheckIndex> Index();
    void HandleCheck(const http::Request& req, http::Response& res);
    void HandleImage(const http::Request& req, http::Response& res);
    void HandleReport(const http::Request& req, http::Response& res);

    ContentCache& cache_;
    ReportRelay& relay_;
    std::mutex mu_;
    std::shared_ptr<const CheckIndex> index_;
    std::function<Json()> status_;
    metrics::Counter checks_, images_hit_, images_miss_, image_bytes_;
    metrics::Counter reports_relayed_, reports_duplicate_, reports_refused_;
};

}  // namespace fwchain::gateway
