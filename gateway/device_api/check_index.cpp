#include "gateway/device_api/check_index.hpp"

#include "common/core/metadata.hpp"

namespace fwchain::gateway {

namespace {
std::string Key(const std::string& product, const std::string& hardware) {
    return product + '\n' + hardware;
}
}  // namespace

CheckIndex::CheckIndex(const std::string& gateway_id, const std::vector<Envelope>& roots,
                       const Envelope& timestamp, const std::vector<Offer>& offers,
                       std::shared_ptr<const HeaderChain> headers)
    : headers_(std::move(headers)) {
    for (const auto& env : roots) {
        auto r = ParseRoot(env);
        if (r && r->version > max_root_version_) max_root_version_ = r->version;
    }
    // Canonical key order of the answer: gateway_id, ledger, manifest, roots, timestamp. The
    // pieces are canonical already, so concatenation keeps the whole answer canonical.
    head_ = "{\"gateway_id\":" + Canonical(Json(gateway_id));
    tail_ = ",\"timestamp\":" + timestamp.Serialize() + "}";
    const std::string head = head_ + ",\"manifest\":";
    const std::string& tail = tail_;
    std::vector<std::string>& roots_part = roots_part_;
    roots_part.resize(max_root_version_ + 1);
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
            b.manifest = manifest;
            b.ledger = offer.ledger;
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

const CheckIndex::Best* CheckIndex::Find(const std::string& product, const std::string& hardware,
                                         std::uint64_t sequence) const {
    auto it = best_.find(Key(product, hardware));
    return it != best_.end() && it->second.sequence > sequence ? &it->second : nullptr;
}

const std::string& CheckIndex::Answer(const std::string& product, const std::string& hardware,
                                      std::uint64_t sequence, std::uint64_t root_version) const {
    const Best* best = Find(product, hardware, sequence);
    return best ? best->by_root_version[RootIndex(root_version)]
                : no_manifest_[RootIndex(root_version)];
}

std::string CheckIndex::AnswerWithProof(const std::string& product, const std::string& hardware,
                                        std::uint64_t sequence, std::uint64_t root_version,
                                        std::uint64_t checkpoint_height) const {
    const Best* best = Find(product, hardware, sequence);
    if (!best || !best->ledger.is_object() || !headers_) {
        return Answer(product, hardware, sequence, root_version);
    }
    const auto height = best->ledger.value("height", std::uint64_t{0});
    // Headers from just above the device's checkpoint (or from the release's block when that is
    // older) to the tip: the device anchors them at its checkpoint (docs/protocol.md).
    const std::uint64_t start = std::min(checkpoint_height + 1, height);
    std::string headers = "[";
    for (std::uint64_t h = start; h < headers_->size(); ++h) {
        if (h != start) headers += ',';
        headers += '"' + (*headers_)[h] + '"';
    }
    headers += ']';
    return head_ + ",\"ledger\":{\"headers\":" + headers + ",\"height\":" + std::to_string(height) +
           ",\"proof\":" + Canonical(best->ledger["proof"]) +
           ",\"tx\":" + Canonical(best->ledger["tx"]) + "},\"manifest\":" + best->manifest +
           roots_part_[RootIndex(root_version)] + tail_;
}

}  // namespace fwchain::gateway
