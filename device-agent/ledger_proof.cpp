#include "device-agent/ledger_proof.hpp"

#include <algorithm>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/tx.hpp"
#include "ledger/primitives/block.hpp"
#include "ledger/primitives/merkle.hpp"

namespace fwchain::device {

namespace {

Unexpected Bad(const std::string& reason, const std::string& message) {
    return Fail(Errc::kVerify, reason, message);
}

std::string CheckpointPath(const std::string& dir) { return dir + "/ledger_checkpoint.json"; }

}  // namespace

Expected<LedgerCheckpoint> LedgerCheckpoint::FromJson(const Json& j) {
    LedgerCheckpoint c;
    FW_ASSIGN(c.height, GetUint(j, "height"));
    FW_ASSIGN(c.hash, GetString(j, "hash"));
    if (!Hash256FromHex(c.hash)) {
        return Fail(Errc::kInvalid, "malformed", "ledger checkpoint hash is not 32 bytes of hex");
    }
    return c;
}

Expected<LedgerCheckpoint> VerifyLedgerProof(const Root& root, const Release& release,
                                             const Json& ledger, const LedgerCheckpoint& checkpoint,
                                             const LedgerPolicy& policy) {
    if (!ledger.is_object()) {
        return Bad("ledger-proof-missing", "the check answer has no ledger proof");
    }
    if (!ledger.contains("tx") || !ledger.contains("proof") || !ledger.contains("headers")) {
        return Bad("ledger-bad-proof", "the ledger proof lacks tx, proof or headers");
    }
    auto height = GetUint(ledger, "height");
    if (!height) return Bad("ledger-bad-proof", "the ledger proof has no height");

    // The release tx: signed by a release key of the trusted root, naming this manifest.
    auto tx = ParseTx(ledger["tx"]);
    if (!tx) return Bad("ledger-bad-tx", "release tx: " + tx.error().ToString());
    auto sender = PublicKeyFromHex(tx->sender);
    if (tx->type != txtype::kRelease || !sender || !root.HasRoleKey("release", *sender)) {
        return Bad("ledger-bad-tx", "the tx is not a release signed by a release key of root v" +
                                        std::to_string(root.version));
    }
    const Json& body = tx->body;
    const bool names_manifest = tx->verifier == release.image.sha256 &&
                                tx->recipient == release.product && body.is_object() &&
                                body.contains("manifest_sha256") &&
                                body["manifest_sha256"] == release.ManifestHash() &&
                                body.contains("sequence") && body["sequence"] == release.sequence;
    if (!names_manifest) {
        return Bad("ledger-bad-tx", "the release tx names another manifest or image");
    }

    // Headers: checkpoint+1 .. tip, linked, each meeting its bits and the chain minimum.
    const Json& hdrs = ledger["headers"];
    if (!hdrs.is_array() || hdrs.empty() || hdrs.size() > kMaxProofHeaders) {
        return Bad("ledger-bad-proof", "headers must be a non-empty array of at most " +
                                           std::to_string(kMaxProofHeaders));
    }
    auto prev = Hash256FromHex(checkpoint.hash);
    if (!prev) return Bad("ledger-bad-link", "the stored checkpoint is malformed");
    std::uint64_t expect_height = checkpoint.height + 1;
    std::optional<ledger::BlockHeader> tx_block;
    std::uint64_t tip_height = checkpoint.height;
    std::vector<Hash256> hashes;
    hashes.reserve(hdrs.size());
    for (const auto& h : hdrs) {
        if (!h.is_string()) return Bad("ledger-bad-proof", "a header is not a hex string");
        auto bytes = FromHex(h.get<std::string>());
        if (!bytes || bytes->size() != ledger::kHeaderSize) {
            return Bad("ledger-bad-proof", "a header is not 136 bytes of hex");
        }
        const ledger::BlockHeader header = ledger::BlockHeader::Deserialize(bytes->data());
        if (header.height != expect_height || header.prev_hash != *prev) {
            return Bad("ledger-bad-link", "header at height " + std::to_string(header.height) +
                                              " does not extend height " +
                                              std::to_string(expect_height - 1));
        }
        const Hash256 hash = header.Hash();
        if (header.bits < policy.min_bits || header.bits > ledger::kMaxBits ||
            !ledger::MeetsBits(hash, header.bits)) {
            return Bad("ledger-bad-pow", "header at height " + std::to_string(header.height) +
                                             " does not meet its proof of work (bits " +
                                             std::to_string(header.bits) + ", minimum " +
                                             std::to_string(policy.min_bits) + ")");
        }
        if (header.height == *height) tx_block = header;
        tip_height = header.height;
        hashes.push_back(hash);
        *prev = hash;
        ++expect_height;
    }
    if (!tx_block) {
        return Bad("ledger-bad-proof", "the tx's block (height " + std::to_string(*height) +
                                           ") is not among the headers after the checkpoint");
    }

    // Merkle path from the tx id to that header's root.
    auto proof = ledger::MerkleProofFromJson(ledger["proof"]);
    if (!proof || proof->size() > kMaxProofSteps) {
        return Bad("ledger-bad-proof", "the Merkle proof is malformed");
    }
    auto leaf = Hash256FromHex(tx->Id());
    if (!leaf || ledger::MerkleRootFromProof(*leaf, *proof) != tx_block->merkle_root) {
        return Bad("ledger-bad-merkle",
                   "the Merkle path does not lead from the release tx to the "
                   "merkle root of block " +
                       std::to_string(*height));
    }
    const std::uint64_t confirmations = tip_height - *height + 1;
    if (confirmations < policy.confirmations) {
        return Bad("ledger-too-few-confirmations",
                   "the release tx has " + std::to_string(confirmations) + " confirmations, " +
                       std::to_string(policy.confirmations) + " needed");
    }

    // Advance, keeping the reorg margin and the tx's block itself provable again.
    LedgerCheckpoint next = checkpoint;
    if (tip_height > policy.finality_depth) {
        const std::uint64_t target = std::min(tip_height - policy.finality_depth, *height - 1);
        if (target > checkpoint.height) {
            next.height = target;
            next.hash = ToHex(hashes[target - checkpoint.height - 1]);
        }
    }
    return next;
}

Expected<LedgerCheckpoint> LoadLedgerCheckpoint(const std::string& state_dir,
                                                const LedgerCheckpoint& initial) {
    const std::string path = CheckpointPath(state_dir);
    if (!FileExists(path)) return initial;
    FW_ASSIGN(Json j, LoadJsonFile(path, 64 << 10));
    auto c = LedgerCheckpoint::FromJson(j);
    if (!c) return Fail(Context(c.error(), "reading " + path));
    return c;
}

Status SaveLedgerCheckpoint(const std::string& state_dir, const LedgerCheckpoint& checkpoint) {
    return WriteFileAtomic(CheckpointPath(state_dir), checkpoint.ToJson().dump() + "\n", 0644);
}

}  // namespace fwchain::device
