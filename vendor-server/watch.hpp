#pragma once
// `vendor-server watch`: publishes every new tag of a repository that matches a pattern, in
// semver order, with the image taken from a path inside each tagged tree.
#include <set>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "vendor-server/publish.hpp"

namespace fwchain::vendor {

struct WatchOptions {
    PublishOptions publish;      // data_dir, product, hardware, ledger_url, allow_lightweight...
    std::string pattern = "v*";  // fnmatch glob over tag names
    std::string image_path;      // path of the image inside each tagged tree
    std::int64_t interval_s = 60;
};

struct WatchRound {
    std::vector<PublishResult> published;
    std::vector<std::string> refused;  // "TAG: reason: message", each reported once
};

// One scan. `refused` remembers tags that failed for a reason retrying cannot fix (not semver,
// not newer, lightweight, no image in the tree...) so they are reported once, not every round.
Expected<WatchRound> WatchOnce(const WatchOptions& opts, std::set<std::string>& refused);

// Scans every interval until SIGTERM/SIGINT, logging what it publishes or refuses.
Status Watch(const WatchOptions& opts);

}  // namespace fwchain::vendor
