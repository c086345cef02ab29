#pragma once
// Merkle tree over tx ids (Bitcoin layout): leaves are the 32 raw bytes of each tx id, a parent is
// SHA-256(left || right), an odd level duplicates its last node, an empty tree is the zero hash
// and a single leaf is its own root. Blocks never hold the same tx twice ("duplicate-tx"), which
// closes the duplicated-last-node ambiguity (CVE-2012-2459).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/core/bytes.hpp"
#include "common/core/json.hpp"

namespace fwchain::ledger {

struct MerkleStep {
    bool sibling_left = false;  // "l": the sibling is hashed on the left
    Hash256 hash{};
};
using MerkleProof = std::vector<MerkleStep>;

Hash256 MerkleRoot(const std::vector<Hash256>& tx_ids);
// Path from leaf `index` to the root; empty when the tree has one leaf or index is out of range.
MerkleProof MakeMerkleProof(const std::vector<Hash256>& tx_ids, std::size_t index);
// Recomputes the root from a leaf and its path.
Hash256 MerkleRootFromProof(const Hash256& leaf, const MerkleProof& proof);

// [{"side":"l"|"r","hash":hex}] (docs/protocol.md GET /v1/tx/{id}).
Json MerkleProofToJson(const MerkleProof& proof);
Expected<MerkleProof> MerkleProofFromJson(const Json& j);

// Tx ids in JSON are hex; the tree works on their bytes.
Expected<std::vector<Hash256>> TxIdsToHashes(const std::vector<std::string>& ids);

}  // namespace fwchain::ledger
