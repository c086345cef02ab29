#include "ledger/primitives/merkle.hpp"

#include <cstring>

#include "common/core/crypto.hpp"

namespace fwchain::ledger {

namespace {

Hash256 HashPair(const Hash256& left, const Hash256& right) {
    std::uint8_t buf[64];
    std::memcpy(buf, left.data(), 32);
    std::memcpy(buf + 32, right.data(), 32);
    return Sha256(buf, sizeof(buf));
}

std::vector<Hash256> NextLevel(const std::vector<Hash256>& level) {
    std::vector<Hash256> next;
    next.reserve((level.size() + 1) / 2);
    for (std::size_t i = 0; i < level.size(); i += 2) {
        const Hash256& right = i + 1 < level.size() ? level[i + 1] : level[i];
        next.push_back(HashPair(level[i], right));
    }
    return next;
}

}  // namespace

Hash256 MerkleRoot(const std::vector<Hash256>& tx_ids) {
    if (tx_ids.empty()) return Hash256{};
    std::vector<Hash256> level = tx_ids;
    while (level.size() > 1) level = NextLevel(level);
    return level[0];
}

MerkleProof MakeMerkleProof(const std::vector<Hash256>& tx_ids, std::size_t index) {
    MerkleProof proof;
    if (index >= tx_ids.size()) return proof;
    std::vector<Hash256> level = tx_ids;
    while (level.size() > 1) {
        MerkleStep step;
        if (index % 2 == 0) {
            step.sibling_left = false;
            step.hash = index + 1 < level.size() ? level[index + 1] : level[index];
        } else {
            step.sibling_left = true;
            step.hash = level[index - 1];
        }
        proof.push_back(step);
        level = NextLevel(level);
        index /= 2;
    }
    return proof;
}

Hash256 MerkleRootFromProof(const Hash256& leaf, const MerkleProof& proof) {
    Hash256 h = leaf;
    for (const auto& step : proof)
        h = step.sibling_left ? HashPair(step.hash, h) : HashPair(h, step.hash);
    return h;
}

Json MerkleProofToJson(const MerkleProof& proof) {
    Json arr = Json::array();
    for (const auto& step : proof) {
        arr.push_back({{"side", step.sibling_left ? "l" : "r"}, {"hash", ToHex(step.hash)}});
    }
    return arr;
}

Expected<MerkleProof> MerkleProofFromJson(const Json& j) {
    if (!j.is_array() || j.size() > 64) {
        return Fail(Errc::kInvalid, "bad-proof", "merkle proof must be an array of <= 64 steps");
    }
    MerkleProof proof;
    for (const auto& s : j) {
        if (!s.is_object()) return Fail(Errc::kInvalid, "bad-proof", "proof step not an object");
        FW_ASSIGN(std::string side, GetString(s, "side"));
        FW_ASSIGN(std::string hash, GetString(s, "hash"));
        auto h = Hash256FromHex(hash);
        if (!h || (side != "l" && side != "r")) {
            return Fail(Errc::kInvalid, "bad-proof",
                        "proof step needs side l|r and a 32-byte hash");
        }
        proof.push_back(MerkleStep{side == "l", *h});
    }
    return proof;
}

Expected<std::vector<Hash256>> TxIdsToHashes(const std::vector<std::string>& ids) {
    std::vector<Hash256> out;
    out.reserve(ids.size());
    for (const auto& id : ids) {
        auto h = Hash256FromHex(id);
        if (!h) return Fail(Errc::kInvalid, "bad-txid", "tx id is not 32-byte hex: " + id);
        out.push_back(*h);
    }
    return out;
}

}  // namespace fwchain::ledger
