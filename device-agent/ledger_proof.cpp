#include "device-agent/ledger_proof.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"
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

namespace {

struct ProofHeader {
    ledger::BlockHeader header;
    Hash256 hash{};
};

// One 136-byte header in hex: parsed, its proof of work checked against its bits and the chain
// minimum.
Expected<ProofHeader> ParseProofHeader(const Json& hex, const LedgerPolicy& policy) {
    if (!hex.is_string()) return Bad("ledger-bad-proof", "a header is not a hex string");
    auto bytes = FromHex(hex.get<std::string>());
    if (!bytes || bytes->size() != ledger::kHeaderSize) {
        return Bad("ledger-bad-proof", "a header is not 136 bytes of hex");
    }
    ProofHeader h{ledger::BlockHeader::Deserialize(bytes->data()), {}};
    h.hash = h.header.Hash();
    if (h.header.bits < policy.min_bits || h.header.bits > ledger::kMaxBits ||
        !ledger::MeetsBits(h.hash, h.header.bits)) {
        return Bad("ledger-bad-pow", "header at height " + std::to_string(h.header.height) +
                                         " does not meet its proof of work (bits " +
                                         std::to_string(h.header.bits) + ", minimum " +
                                         std::to_string(policy.min_bits) + ")");
    }
    return h;
}

// The Merkle path `proof` (json) leads from tx id `id` to `root`.
bool MerklePathLeads(const Json& proof, const std::string& id, const Hash256& root) {
    auto steps = ledger::MerkleProofFromJson(proof);
    auto leaf = Hash256FromHex(id);
    return steps && steps->size() <= kMaxProofSteps && leaf &&
           ledger::MerkleRootFromProof(*leaf, *steps) == root;
}

}  // namespace

Expected<LedgerCheckpoint> VerifyLedgerProof(const Root& root, const Timestamp& ts,
                                             const Release& release, const Json& ledger,
                                             const LedgerCheckpoint& checkpoint,
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
    auto body = ReleaseTxBody::Parse(tx->body);
    const bool names_manifest =
        tx->verifier == release.image.sha256 && tx->recipient == release.product && body &&
        body->manifest_sha256 == release.ManifestHash() && body->sequence == release.sequence;
    if (!names_manifest) {
        return Bad("ledger-bad-tx", "the release tx names another manifest or image");
    }

    // The anchor: the release's block when the (verified) timestamp names it, else the newest
    // checkpoint the device trusts, its own or the vendor's.
    LedgerCheckpoint anchor = checkpoint;
    if (ts.checkpoint && ts.checkpoint->height > anchor.height) {
        anchor = LedgerCheckpoint{ts.checkpoint->height, ts.checkpoint->hash};
    }
    const ManifestEntry* named = ts.Manifest(release.product, release.sequence);
    const std::optional<LedgerPoint> named_block =
        named != nullptr ? named->block : std::optional<LedgerPoint>();
    if (named_block && named_block->height != *height) {
        return Bad("ledger-bad-proof", "the proof puts the release at height " +
                                           std::to_string(*height) + ", the timestamp at " +
                                           std::to_string(named_block->height));
    }
    if (!named_block && *height <= anchor.height) {
        return Bad("ledger-bad-proof", "the release's block (height " + std::to_string(*height) +
                                           ") is not above the checkpoint (height " +
                                           std::to_string(anchor.height) + ")");
    }

    // Headers: contiguous from the anchor, each meeting its bits and signed by its miner.
    const Json& hdrs = ledger["headers"];
    if (!hdrs.is_array() || hdrs.empty() || hdrs.size() > kMaxProofHeaders) {
        return Bad("ledger-bad-proof", "headers must be a non-empty array of at most " +
                                           std::to_string(kMaxProofHeaders));
    }
    auto prev = Hash256FromHex(anchor.hash);
    if (!prev) return Bad("ledger-bad-link", "the stored checkpoint is malformed");
    std::uint64_t expect_height = named_block ? named_block->height : anchor.height + 1;
    std::vector<ProofHeader> chain;
    chain.reserve(hdrs.size());
    for (const auto& item : hdrs) {
        if (!item.is_object() || !item.contains("header") || !item.contains("miner_sig")) {
            return Bad("ledger-bad-proof", "a header entry lacks header or miner_sig");
        }
        FW_ASSIGN(ProofHeader h, ParseProofHeader(item["header"], policy));
        const bool linked = chain.empty() && named_block ? ToHex(h.hash) == named_block->hash
                                                         : h.header.prev_hash == *prev;
        if (h.header.height != expect_height || !linked) {
            return Bad("ledger-bad-link", "header at height " + std::to_string(h.header.height) +
                                              " does not extend height " +
                                              std::to_string(expect_height - 1) +
                                              (chain.empty() ? " (the anchor)" : ""));
        }
        auto sig = item["miner_sig"].is_string()
                       ? SignatureFromHex(item["miner_sig"].get<std::string>())
                       : std::nullopt;
        if (!sig || !Verify(h.header.miner, h.hash.data(), h.hash.size(), *sig)) {
            return Bad("ledger-bad-miner-sig", "header at height " +
                                                   std::to_string(h.header.height) +
                                                   " is not signed by its miner");
        }
        *prev = h.hash;
        ++expect_height;
        chain.push_back(h);
    }
    const std::uint64_t first_height = chain.front().header.height;
    const std::uint64_t last_height = chain.back().header.height;
    if (*height < first_height || *height > last_height) {
        return Bad("ledger-bad-proof", "the tx's block (height " + std::to_string(*height) +
                                           ") is not among the headers of the proof");
    }
    const ProofHeader& tx_block = chain[*height - first_height];
    if (!MerklePathLeads(ledger["proof"], tx->Id(), tx_block.header.merkle_root)) {
        return Bad(
            "ledger-bad-merkle",
            "the Merkle path does not lead from the release tx to the merkle root of block " +
                std::to_string(*height));
    }

    // Approvals (docs/rollouts.md): `min_approvals` distinct approver keys of the trusted root,
    // each by an approve tx of this release in a block of the proof.
    if (release.min_approvals > 0) {
        const std::string release_id = tx->Id();
        std::set<PublicKey> approvers;
        const Json* list = ledger.contains("approvals") ? &ledger["approvals"] : nullptr;
        if (list != nullptr && (!list->is_array() || list->size() > kMaxProofApprovals)) {
            return Bad("ledger-bad-proof", "approvals must be an array of at most " +
                                               std::to_string(kMaxProofApprovals));
        }
        for (const auto& a : list != nullptr ? *list : Json::array()) {
            if (!a.is_object() || !a.contains("tx") || !a.contains("proof")) {
                return Bad("ledger-bad-proof", "an approval lacks tx or proof");
            }
            auto at = GetUint(a, "height");
            auto approve = ParseTx(a["tx"]);
            if (!at || !approve) return Bad("ledger-bad-proof", "an approval is malformed");
            auto by = PublicKeyFromHex(approve->sender);
            if (approve->type != txtype::kApprove || approve->recipient != release_id || !by ||
                !root.HasRoleKey("approver", *by)) {
                continue;  // not an approval of this release by an approver: does not count
            }
            if (*at < first_height || *at > last_height ||
                !MerklePathLeads(a["proof"], approve->Id(),
                                 chain[*at - first_height].header.merkle_root)) {
                return Bad("ledger-bad-merkle",
                           "an approval is not in a block of the proof (height " +
                               std::to_string(*at) + ")");
            }
            approvers.insert(*by);
        }
        if (approvers.size() < release.min_approvals) {
            return Bad("ledger-too-few-approvals",
                       "the release has " + std::to_string(approvers.size()) +
                           " approval(s) in the proof, " + std::to_string(release.min_approvals) +
                           " needed");
        }
    }

    // Confirmations, and how many distinct miners gave them.
    const std::uint64_t confirmations = last_height - *height + 1;
    if (confirmations < policy.confirmations) {
        return Bad("ledger-too-few-confirmations",
                   "the release tx has " + std::to_string(confirmations) + " confirmations, " +
                       std::to_string(policy.confirmations) + " needed");
    }
    std::set<PublicKey> confirming;
    for (std::uint64_t h = *height; h <= last_height; ++h) {
        confirming.insert(chain[h - first_height].header.miner);
    }
    if (confirming.size() < policy.distinct_miners) {
        return Bad("ledger-too-few-miners",
                   "the release's block and the blocks on top were mined by " +
                       std::to_string(confirming.size()) + " distinct miner(s), " +
                       std::to_string(policy.distinct_miners) + " needed");
    }

    // Every miner of the proof is admitted: a genesis miner, or an admit tx (role gateway, by an
    // admission key of the trusted root) in a block below the first one it mined here.
    std::map<PublicKey, std::uint64_t> first_mined;
    for (const auto& h : chain) first_mined.emplace(h.header.miner, h.header.height);
    std::set<PublicKey> admitted(policy.genesis_miners.begin(), policy.genesis_miners.end());
    if (ledger.contains("admissions")) {
        const Json& admissions = ledger["admissions"];
        if (!admissions.is_array() || admissions.size() > kMaxProofAdmissions) {
            return Bad("ledger-bad-proof", "admissions must be an array of at most " +
                                               std::to_string(kMaxProofAdmissions));
        }
        for (const auto& a : admissions) {
            if (!a.is_object() || !a.contains("tx") || !a.contains("proof")) {
                return Bad("ledger-bad-proof", "an admission lacks tx or proof");
            }
            auto at = GetUint(a, "height");
            auto admit = ParseTx(a["tx"]);
            if (!at || !admit) return Bad("ledger-bad-proof", "an admission is malformed");
            auto by = PublicKeyFromHex(admit->sender);
            auto ab = AdmitTxBody::Parse(admit->body);
            auto key = ab ? PublicKeyFromHex(ab->key) : std::nullopt;
            const bool gateway = ab && ab->role == kRoleGateway;
            if (admit->type != txtype::kAdmit || !by || !root.HasRoleKey("admission", *by) ||
                !gateway || !key) {
                return Bad("ledger-unadmitted-miner",
                           "an admission is not an admit tx of a gateway by an admission key of "
                           "root v" +
                               std::to_string(root.version));
            }
            auto mined = first_mined.find(*key);
            if (mined == first_mined.end()) continue;  // names no miner of this proof
            // The block holding the admit tx: a header of the proof below the miner's first
            // block, or (older than the anchor) a header given with it.
            std::optional<ProofHeader> holder;
            if (*at >= first_height && *at <= last_height) {
                holder = chain[*at - first_height];
            } else if (*at < first_height && a.contains("header")) {
                FW_ASSIGN(holder, ParseProofHeader(a["header"], policy));
                if (holder->header.height != *at) holder.reset();
            }
            if (!holder || *at >= mined->second ||
                !MerklePathLeads(a["proof"], admit->Id(), holder->header.merkle_root)) {
                return Bad("ledger-unadmitted-miner",
                           "the admission of miner " + ToHex(*key).substr(0, 16) +
                               " is not in a block below the first one it mined");
            }
            admitted.insert(*key);
        }
    }
    for (const auto& [miner, at] : first_mined) {
        if (!admitted.count(miner)) {
            return Bad("ledger-unadmitted-miner", "the miner of block " + std::to_string(at) +
                                                      " (" + ToHex(miner).substr(0, 16) +
                                                      ") is not shown to be admitted");
        }
    }

    // Advance, keeping the reorg margin and the tx's block itself provable again.
    LedgerCheckpoint next = anchor;
    if (last_height > policy.finality_depth && *height > 0) {
        const std::uint64_t target = std::min(last_height - policy.finality_depth, *height - 1);
        if (target > next.height && target >= first_height) {
            next.height = target;
            next.hash = ToHex(chain[target - first_height].hash);
        }
    }
    if (next.height < checkpoint.height) next = checkpoint;
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
