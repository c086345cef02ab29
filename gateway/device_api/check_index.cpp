#include "gateway/device_api/check_index.hpp"

#include "common/core/metadata.hpp"

namespace fwchain::gateway {

namespace {
std::string Key(const std::string& product, const std::string& hardware) {
    return product + '\n' + hardware;
}
}  // namespace

CheckIndex::CheckIndex(const std::string& gateway_id, const std::vector<Envelope>& roots,
                       const Envelope& timestamp, const std::vector<Offer>& offers) {
    for (const auto& env : roots) {
        auto r = ParseRoot(env);
        if (r && r->version > max_root_version_) max_root_version_ = r->version;
    }
    // Canonical key order of the answer: gateway_id, manifest, roots, timestamp. The pieces are
    // canonical already, so concatenation keeps the whole answer canonical.
    const std::string head = "{\"gateway_id\":" + Canonical(Json(gateway_id)) + ",\"manifest\":";
    const std::string tail = ",\"timestamp\":" + timestamp.Serialize() + "}";
    std::vector<std::string> roots_part(max_root_version_ + 1);
    for (std::uint64_t v = 0; v <= max_root_version_; ++v) {
        std::string part = ",\"roots\":[";
        bool first = true;
        for (const auto& env : roots) {
            auto r = ParseRoot(env);
            if (!r || r->version <= v) continue;
            if (!first) part += ',';
            part += env.Serialize();
            first = false;
        }
        roots_part[v] = part + "]";
        no_manifest_.push_back(head + "null" + roots_part[v] + tail);
    }
    for (const auto& offer : offers) {
        const std::string manifest = offer.manifest.Serialize();
        for (const auto& hw : offer.hardware) {
            Best& b = best_[Key(offer.product, hw)];
            if (offer.sequence <= b.sequence) continue;
            b.sequence = offer.sequence;
            b.by_root_version.clear();
            for (std::uint64_t v = 0; v <= max_root_version_; ++v) {
                b.by_root_version.push_back(head + manifest + roots_part[v] + tail);
            }
        }
    }
}

std::size_t CheckIndex::RootIndex(std::uint64_t root_version) const {
    return static_cast<std::size_t>(std::min(root_version, max_root_version_));
}

const std::string& CheckIndex::Answer(const std::string& product, const std::string& hardware,
                                      std::uint64_t sequence, std::uint64_t root_version) const {
    auto it = best_.find(Key(product, hardware));
    if (it != best_.end() && it->second.sequence > sequence) {
        return it->second.by_root_version[RootIndex(root_version)];
    }
    return no_manifest_[RootIndex(root_version)];
}

}  // namespace fwchain::gateway
