#pragma once
// The node's web dashboard (ledger/README.md "Dashboard"): the static single-page app at `/`,
// compiled into the binary, and the read-only JSON endpoints it needs besides the core API
// (docs/protocol.md "Dashboard endpoints"). No HTTP library type here.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "common/adapters/http_server.hpp"
#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "ledger/chain/chain.hpp"

namespace fwchain::ledger {

// One embedded file of ledger/dashboard/ (generated at build time, see ledger/CMakeLists.txt).
struct DashboardAsset {
    std::string_view path;  // URL path, e.g. "/" or "/dashboard/app.js"
    std::string_view content_type;
    std::string_view bytes;
};
// Every embedded asset; defined in the generated dashboard_assets.cpp.
const DashboardAsset* DashboardAssets(std::size_t* count);

// The headers every dashboard page and asset carries: a strict Content-Security-Policy (scripts
// and styles only from this origin, no inline code, no innerHTML sinks), nosniff, no framing.
extern const char* const kDashboardCsp;

// Adds `/`, `/dashboard/*` and the dashboard's JSON endpoints to the node's routes.
void AddDashboardRoutes(http::Router& routes, Chain& chain);

// Parses GET /v1/activity parameters (`now` is the default end of the range).
Expected<ActivityQuery> ActivityQueryFromParams(const std::multimap<std::string, std::string>& p,
                                                std::int64_t now);
// JSON shapes of the endpoints, shared with the tests.
Json ProductsToJson(const std::vector<ProductSummary>& products);
Json ReleasesToJson(const std::string& product, const std::vector<ReleaseSummary>& releases,
                    std::uint64_t tip_height);
Json ActivityToJson(const ActivityQuery& q, const ActivityCounts& counts);

}  // namespace fwchain::ledger
