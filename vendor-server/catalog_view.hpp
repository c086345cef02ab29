#pragma once
// `vendor-server list` and `show`: what the catalog holds, as JSON (the text output is a
// rendering of the same JSON).
#include <string>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain::vendor {

// {"vendor","root_version","products":[{"product","releases","latest_sequence",
//  "latest_version"}],"outbox":{"pending","rejected"}}
Expected<Json> ListCatalog(const std::string& data_dir);

// {"product","releases":[{"sequence","version","tag","commit","repo","image":{...},
//  "created","expires","tx_id","ledger":"pending|accepted|rejected","torrent":{...},
//  "rollout":{...}|null,"min_approvals":n}]}; "unknown-product" when it has no release.
Expected<Json> ShowProduct(const std::string& data_dir, const std::string& product);

}  // namespace fwchain::vendor
