#include "vendor-server/watch.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <ctime>

#include "common/adapters/log.hpp"
#include "common/core/semver.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/git_source.hpp"

namespace fwchain::vendor {

Expected<WatchRound> WatchOnce(const WatchOptions& opts, std::set<std::string>& refused) {
    if (opts.image_path.empty()) {
        return Fail(Errc::kInvalid, "no-image", "--image-path is required");
    }
    FW_TRY(CheckReleaseOptions(opts.publish));
    const DataDir dir(opts.publish.data_dir);
    FW_ASSIGN(auto catalog, Catalog::Open(dir.Catalog()));
    FW_ASSIGN(auto tags, ListTags(opts.publish.repo, opts.pattern));

    WatchRound round;
    // Oldest version first, so the sequence follows the versions.
    std::vector<std::pair<SemVer, std::string>> candidates;
    for (const auto& tag : tags) {
        if (refused.count(tag) != 0) continue;
        FW_ASSIGN(bool done, catalog.TagPublished(opts.publish.product, tag));
        if (done) continue;
        auto v = SemVer::Parse(tag);
        if (!v) {
            refused.insert(tag);
            round.refused.push_back(tag + ": bad-version: not a semantic version");
            continue;
        }
        candidates.emplace_back(*v, tag);
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [version, tag] : candidates) {
        PublishOptions p = opts.publish;
        p.tag = tag;
        p.image = "tree:" + opts.image_path;
        p.version.clear();
        auto r = Publish(p);
        if (r) {
            round.published.push_back(std::move(*r));
            continue;
        }
        // Storage or lock failures may pass; everything else is a property of the tag.
        if (r.error().code == Errc::kIo || r.error().code == Errc::kDatabase) {
            return Fail(Context(r.error(), "publishing " + tag));
        }
        refused.insert(tag);
        round.refused.push_back(tag + ": " + r.error().ToString());
    }
    return round;
}

Status Watch(const WatchOptions& opts) {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    std::set<std::string> refused;
    spdlog::info("watching {} for tags {} every {} s", opts.publish.repo, opts.pattern,
                 opts.interval_s);
    for (;;) {
        auto round = WatchOnce(opts, refused);
        if (!round) {
            spdlog::error("{}", round.error().ToString());
        } else {
            for (const auto& r : round->published) {
                spdlog::info("published {} {} sequence {} (release tx {})", r.product, r.version,
                             r.sequence, r.tx_id);
                if (r.ledger && r.ledger->rejected > 0) {
                    for (const auto& why : r.ledger->rejections) {
                        spdlog::error("ledger rejected {}", why);
                    }
                }
            }
            for (const auto& why : round->refused) spdlog::warn("not published: {}", why);
        }
        const timespec wait{static_cast<time_t>(std::max<std::int64_t>(opts.interval_s, 1)), 0};
        if (sigtimedwait(&stop, nullptr, &wait) > 0) {
            spdlog::info("stopping");
            return {};
        }
    }
}

}  // namespace fwchain::vendor
