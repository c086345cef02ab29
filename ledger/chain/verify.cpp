#include "ledger/chain/verify.hpp"

#include <algorithm>
#include <utility>

#include "common/core/fs.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/chain/prefetch.hpp"
#include "ledger/chain/store.hpp"

namespace fwchain::ledger {

namespace {

Expected<EncodedBlock> ParseStoredBlock(const std::string& text) {
    FW_ASSIGN(Json j, ParseJson(text, kMaxBlockSize + 65536));
    return EncodedBlock::Parse(std::move(j));
}

}  // namespace

Expected<VerifyResult> VerifyStoredChain(
    const std::string& db_path, const std::optional<Hash256>& expected_genesis,
    const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
    if (!FileExists(db_path)) return Fail(Errc::kNotFound, "no-store", db_path + " does not exist");
    FW_ASSIGN(auto source, ChainStore::Open(db_path));
    FW_ASSIGN(PruneInfo pruning, source->Pruning());
    if (pruning.prune_height > 0) {
        // Replaying from genesis needs every body; a pruned store trusted its history when it
        // synced and validated it, and kept only its result (registry, headers, evidence).
        return Fail(Errc::kConflict, "pruned",
                    db_path + " is a pruned store: block bodies 1.." +
                        std::to_string(pruning.prune_height) +
                        " are not held, so its history cannot be re-verified from genesis; "
                        "verify an archival node's store (a ledger node without --prune-budget)");
    }
    FW_ASSIGN(auto tip, source->Tip());
    if (!tip) return Fail(Errc::kDatabase, "no-tip", "the store holds no blocks");
    VerifyResult result;
    result.tip_height = tip->height;
    auto fail_at = [&](std::uint64_t height, const std::string& hash, const std::string& why) {
        result.bad_height = height;
        result.bad_hash = hash;
        result.reason = why;
        return result;
    };

    FW_ASSIGN(auto genesis_text, source->BlockJsonAtHeight(0));
    if (!genesis_text) return fail_at(0, "", "no genesis block");
    auto genesis = ParseStoredBlock(*genesis_text);
    if (!genesis) return fail_at(0, "", genesis.error().ToString());
    const Hash256 genesis_hash = expected_genesis ? *expected_genesis : genesis->Hash();
    ChainOptions co;
    co.db_path = ":memory:";
    co.genesis_hash = genesis_hash;
    co.genesis = genesis->block();
    auto scratch = Chain::Open(co);
    if (!scratch) {
        if (scratch.error().code == Errc::kDatabase) return Fail(scratch.error());
        return fail_at(0, ToHex(genesis->Hash()), scratch.error().ToString());
    }
    result.verified = 1;
    // As a syncing node: the next blocks are parsed (signatures verified) on another thread
    // while the current batch is connected.
    const std::uint64_t last = tip->height;
    BlockPrefetcher prefetch(
        [&](std::size_t i) -> Expected<std::optional<Json>> {
            const std::uint64_t h = i + 1;
            if (h > last) return std::optional<Json>();
            FW_ASSIGN(auto text, source->BlockJsonAtHeight(h));
            if (!text) {
                return Fail(Errc::kNotFound, "missing-block",
                            "main chain has no block at height " + std::to_string(h));
            }
            FW_ASSIGN(Json j, ParseJson(*text, kMaxBlockSize + 65536));
            return std::optional<Json>(std::move(j));
        },
        kSyncPrefetchDepth);
    std::uint64_t h = 1;
    while (true) {
        auto batch = prefetch.NextBatch(kSyncBatchBlocks);
        if (batch.empty()) break;
        if (batch.error && batch.error->code == Errc::kDatabase) return Fail(*batch.error);
        const std::vector<EncodedBlock>& blocks = batch.blocks;
        // The newest block's own time as "now": a chain valid when mined stays valid later.
        std::int64_t now = NowSeconds();
        for (const auto& b : blocks) now = std::max(now, b.block().header.timestamp);
        auto results = (*scratch)->SubmitBlocks(blocks, now);
        for (std::size_t i = 0; i < results.size(); ++i, ++h) {
            const std::string hash = ToHex(blocks[i].Hash());
            if (!results[i]) {
                if (results[i].error().code == Errc::kDatabase) return Fail(results[i].error());
                return fail_at(h, hash, results[i].error().ToString());
            }
            if (!results[i]->main) return fail_at(h, hash, "does not extend the chain");
            ++result.verified;
            if (progress && (h % 64 == 0 || h == last)) progress(h, last);
        }
        if (batch.error) return fail_at(h, "", batch.error->ToString());
    }
    return result;
}

}  // namespace fwchain::ledger
