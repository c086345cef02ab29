#include "ledger/chain/verify.hpp"

#include <algorithm>

#include "common/core/fs.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/chain/store.hpp"

namespace fwchain::ledger {

namespace {

Expected<EncodedBlock> ParseStoredBlock(const std::string& text) {
    FW_ASSIGN(Json j, ParseJson(text, kMaxBlockSize + 65536));
    return EncodedBlock::Parse(j);
}

}  // namespace

Expected<VerifyResult> VerifyStoredChain(
    const std::string& db_path, const std::optional<Hash256>& expected_genesis,
    const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
    if (!FileExists(db_path)) return Fail(Errc::kNotFound, "no-store", db_path + " does not exist");
    FW_ASSIGN(auto source, ChainStore::Open(db_path));
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
    for (std::uint64_t h = 1; h <= tip->height; ++h) {
        FW_ASSIGN(auto text, source->BlockJsonAtHeight(h));
        if (!text) return fail_at(h, "", "main chain has no block at this height");
        auto block = ParseStoredBlock(*text);
        if (!block) return fail_at(h, "", block.error().ToString());
        // The block's own time as "now": a chain valid when mined stays valid later.
        const std::int64_t now = std::max(NowSeconds(), block->block().header.timestamp);
        auto connected = (*scratch)->SubmitBlock(*block, now);
        if (!connected) {
            if (connected.error().code == Errc::kDatabase) return Fail(connected.error());
            return fail_at(h, ToHex(block->Hash()), connected.error().ToString());
        }
        if (!connected->main) return fail_at(h, ToHex(block->Hash()), "does not extend the chain");
        ++result.verified;
        if (progress && (h % 64 == 0 || h == tip->height)) progress(h, tip->height);
    }
    return result;
}

}  // namespace fwchain::ledger
