#include "gateway/device_api/check_index.hpp"

#include <algorithm>

#include "common/core/metadata.hpp"
#include "common/core/rollout.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::gateway {

namespace {
std::string Key(const std::string& product, const std::string& hardware) {
    return product + '\n' + hardware;
}

static_assert(sizeof(ChainHeader::header) == ledger::kHeaderSize);

ledger::BlockHeader Decode(const ChainHeader& h) {
    return ledger::BlockHeader::Deserialize(h.header.data());
}
}  // namespace

CheckIndex::CheckIndex(const std::string& gateway_id, const std::vector<Envelope>& roots,
                       const Envelope& timestamp, const std::vector<Offer>& offers,
                       std::shared_ptr<const ProofHeaders> headers,
                       std::shared_ptr<const Admissions> admissions)
    : headers_(std::move(headers)), admissions_(std::move(admissions)) {
    if (auto ts = ParseTimestamp(timestamp)) timestamp_ = std::move(*ts);
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
            std::vector<Best>& list = best_[Key(offer.product, hw)];
            Best b;
            b.sequence = offer.sequence;
            b.percent = offer.percent;
            b.product = offer.product;
            b.manifest = manifest;
            b.ledger = offer.ledger;
            for (std::uint64_t v = 0; v <= max_root_version_; ++v) {
                b.by_root_version.push_back(head + manifest + roots_part[v] + tail);
            }
            list.push_back(std::move(b));
        }
    }
    // Newest first; past the first release that reaches every device, older ones never win.
    for (auto& [key, list] : best_) {
        std::sort(list.begin(), list.end(),
                  [](const Best& a, const Best& b) { return a.sequence > b.sequence; });
        auto full =
            std::find_if(list.begin(), list.end(), [](const Best& b) { return b.percent >= 100; });
        if (full != list.end()) list.erase(full + 1, list.end());
    }
}

std::size_t CheckIndex::RootIndex(std::uint64_t root_version) const {
    return static_cast<std::size_t>(std::min(root_version, max_root_version_));
}

const CheckIndex::Best* CheckIndex::Find(const std::string& product, const std::string& hardware,
                                         std::uint64_t sequence,
                                         const std::string& device_id) const {
    auto it = best_.find(Key(product, hardware));
    if (it == best_.end()) return nullptr;
    for (const Best& b : it->second) {
        if (b.sequence <= sequence) return nullptr;  // nothing newer than what the device runs
        // A device that does not name itself gets only what the whole fleet gets.
        if (b.percent >= 100 ||
            (!device_id.empty() &&
             InRollout(RolloutBucket(device_id, product, b.sequence), b.percent))) {
            return &b;
        }
    }
    return nullptr;
}

std::size_t CheckIndex::offer_count() const {
    std::size_t n = 0;
    for (const auto& [key, list] : best_) n += list.size();
    return n;
}

const std::string& CheckIndex::Answer(const std::string& product, const std::string& hardware,
                                      std::uint64_t sequence, std::uint64_t root_version,
                                      const std::string& device_id) const {
    const Best* best = Find(product, hardware, sequence, device_id);
    return best ? best->by_root_version[RootIndex(root_version)]
                : no_manifest_[RootIndex(root_version)];
}

std::vector<HeightRange> ProofRanges(const Envelope& timestamp, const std::vector<Offer>& offers,
                                     std::uint64_t tip, const Admissions* admissions) {
    std::vector<HeightRange> ranges;
    auto ts = ParseTimestamp(timestamp);
    for (const Offer& offer : offers) {
        if (!offer.ledger.is_object()) continue;
        const auto height = offer.ledger.value("height", std::uint64_t{0});
        if (height > tip) continue;
        // As AnswerWithProof: the end of the proof, then the lowest start any device can get.
        std::uint64_t last_needed = height;
        for (const auto& a : offer.ledger.value("approvals", Json::array())) {
            last_needed = std::max(last_needed, a.value("height", std::uint64_t{0}));
        }
        const std::uint64_t end = std::min(tip, last_needed + kProofWindow);
        std::uint64_t first = ts && ts->checkpoint ? ts->checkpoint->height + 1 : 1;
        const ManifestEntry* named = ts ? ts->Manifest(offer.product, offer.sequence) : nullptr;
        if (named != nullptr && named->block && named->block->height <= tip) {
            ranges.push_back({named->block->height, named->block->height});
            first = std::min(first, named->block->height);
        }
        if (end + 1 > kMaxProofHeaders) first = std::max(first, end + 1 - kMaxProofHeaders);
        if (first <= height) ranges.push_back({first, end});
    }
    if (admissions != nullptr) {
        for (const auto& [miner, a] : *admissions) {
            const auto at = a.value("height", std::uint64_t{0});
            if (at <= tip) ranges.push_back({at, at});
        }
    }
    return ranges;
}

std::string CheckIndex::AnswerWithProof(const std::string& product, const std::string& hardware,
                                        std::uint64_t sequence, std::uint64_t root_version,
                                        std::uint64_t checkpoint_height,
                                        const std::string& device_id) const {
    const Best* best = Find(product, hardware, sequence, device_id);
    if (!best || !best->ledger.is_object() || !headers_ || headers_->by_height.empty()) {
        return Answer(product, hardware, sequence, root_version, device_id);
    }
    // A header this answer needs and the gateway does not hold (the ledger was unreachable
    // when it read them): no proof, as for a device it cannot serve.
    auto no_proof = [&] { return Answer(product, hardware, sequence, root_version, device_id); };
    const ProofHeaders& chain = *headers_;
    const auto height = best->ledger.value("height", std::uint64_t{0});
    const std::uint64_t tip = chain.tip;
    // The anchor the device will use (docs/protocol.md "Ledger proofs for devices").
    std::uint64_t start = checkpoint_height + 1;
    if (timestamp_) {
        const ManifestEntry* named = timestamp_->Manifest(best->product, best->sequence);
        bool named_here = false;  // the block the timestamp names is on this chain
        if (named != nullptr && named->block && named->block->height <= tip) {
            const ChainHeader* at = chain.Find(named->block->height);
            if (at == nullptr) return no_proof();
            named_here = ToHex(Decode(*at).Hash()) == named->block->hash;
        }
        if (named_here) {
            start = named->block->height;
        } else if (timestamp_->checkpoint && timestamp_->checkpoint->height >= checkpoint_height) {
            start = timestamp_->checkpoint->height + 1;
        }
    }
    // The headers reach the newest approval's block as well (devices count approvals only in
    // blocks of the proof).
    std::uint64_t last_needed = height;
    const Json approvals = best->ledger.value("approvals", Json::array());
    for (const auto& a : approvals) {
        last_needed = std::max(last_needed, a.value("height", std::uint64_t{0}));
    }
    const std::uint64_t end = std::min(tip, last_needed + kProofWindow);
    if (start > height || height > tip || end - start + 1 > kMaxProofHeaders) {
        // No proof this device can check: it then refuses with "ledger-proof-missing".
        return no_proof();
    }
    std::string headers = "[";
    std::map<std::string, std::uint64_t> miners;  // first height each mined in the proof
    auto it = chain.by_height.find(start);
    for (std::uint64_t h = start; h <= end; ++h, ++it) {
        if (it == chain.by_height.end() || it->first != h) return no_proof();
        if (h != start) headers += ',';
        const ChainHeader& c = it->second;
        headers +=
            "{\"header\":\"" + ToHex(c.header) + "\",\"miner_sig\":\"" + ToHex(c.miner_sig) + "\"}";
        miners.emplace(ToHex(Decode(c).miner), h);
    }
    headers += ']';
    Json admissions = Json::array();
    if (admissions_) {
        for (const auto& [miner, first] : miners) {
            auto found = admissions_->find(miner);
            if (found == admissions_->end()) continue;  // a genesis miner: the device knows it
            Json a = found->second;
            const auto at = a.value("height", std::uint64_t{0});
            if (at < start && at <= tip) {
                const ChainHeader* admitted = chain.Find(at);
                if (admitted == nullptr) return no_proof();
                a["header"] = ToHex(admitted->header);
            }
            admissions.push_back(std::move(a));
        }
    }
    return head_ + ",\"ledger\":{\"admissions\":" + Canonical(admissions) +
           (approvals.empty() ? std::string() : ",\"approvals\":" + Canonical(approvals)) +
           ",\"headers\":" + headers + ",\"height\":" + std::to_string(height) +
           ",\"proof\":" + Canonical(best->ledger["proof"]) +
           ",\"tx\":" + Canonical(best->ledger["tx"]) + "},\"manifest\":" + best->manifest +
           roots_part_[RootIndex(root_version)] + tail_;
}

}  // namespace fwchain::gateway
