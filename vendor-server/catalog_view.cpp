#include "vendor-server/catalog_view.hpp"

#include "common/core/fs.hpp"
#include "common/core/metadata.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {

Expected<Json> ListCatalog(const std::string& data_dir) {
    const DataDir dir(data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    FW_ASSIGN(auto root, LatestRoot(dir));
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_ASSIGN(auto products, catalog.Products());
    Json list = Json::array();
    for (const auto& p : products) {
        list.push_back({{"product", p.product},
                        {"releases", p.releases},
                        {"latest_sequence", p.latest_sequence},
                        {"latest_version", p.latest_version}});
    }
    FW_ASSIGN(auto pending, catalog.PendingOutbox(100000));
    return Json{{"vendor", cfg.vendor},
                {"root_version", root.version},
                {"products", list},
                {"outbox_pending", pending.size()}};
}

Expected<Json> ShowProduct(const std::string& data_dir, const std::string& product) {
    FW_TRY(CheckProductName(product));
    const DataDir dir(data_dir);
    FW_ASSIGN(auto cfg, VendorConfig::Load(dir));
    (void)cfg;
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_ASSIGN(auto rows, catalog.Releases(product, 0, 1000000));
    if (rows.empty()) {
        return Fail(Errc::kNotFound, "unknown-product",
                    "product " + product + " has no published release");
    }
    Json releases = Json::array();
    for (const auto& r : rows) {
        FW_ASSIGN(auto text, ReadFile(dir.ManifestFile(product, r.sequence)));
        FW_ASSIGN(auto env, ParseEnvelope(std::string_view(text)));
        FW_ASSIGN(const ReleaseManifest m, ReleaseManifest::Parse(env.signed_doc));
        const Json doc = m.ToJson();
        FW_ASSIGN(auto entry, catalog.OutboxEntry(r.tx_id));
        Json rel = {{"sequence", r.sequence},
                    {"version", r.version},
                    {"tag", r.tag},
                    {"commit", r.commit},
                    {"repo", r.repo},
                    {"image", doc["image"]},
                    {"hardware", doc["hardware"]},
                    {"created", r.created},
                    {"expires", m.expires},
                    {"manifest_sha256", r.manifest_sha256},
                    {"tx_id", r.tx_id},
                    {"ledger", entry ? entry->status : std::string("unknown")},
                    {"torrent", m.torrent ? doc["torrent"] : Json(nullptr)},
                    {"rollout", m.rollout ? doc["rollout"] : Json(nullptr)},
                    {"min_approvals", m.min_approvals},
                    {"source", doc["source"]}};
        releases.push_back(std::move(rel));
    }
    return Json{{"product", product}, {"releases", releases}};
}

}  // namespace fwchain::vendor
