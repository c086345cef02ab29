// Blocks as a ledger node receives them (POST /v1/blocks, sync): strict JSON, Block::FromJson
// (shape, sizes, tx signatures) and EncodedBlock::Parse, which must agree.
#include "ledger/primitives/block.hpp"

#include "common/core/json.hpp"
#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(block) {
    using namespace fwchain;
    auto j = ParseJson(fuzz::Text(data, size), ledger::kMaxBlockSize);
    if (!j) return 0;
    auto block = ledger::Block::FromJson(*j);
    auto encoded = ledger::EncodedBlock::Parse(*j, 1);
    FWCHAIN_FUZZ_CHECK(static_cast<bool>(block) == static_cast<bool>(encoded));
    if (!block) return 0;
    FWCHAIN_FUZZ_CHECK(encoded->Hash() == block->Hash());
    FWCHAIN_FUZZ_CHECK(encoded->tx_ids().size() == block->txs.size());
    auto again = ledger::Block::FromJson(block->ToJson());
    FWCHAIN_FUZZ_CHECK(again);
    FWCHAIN_FUZZ_CHECK(Canonical(again->ToJson()) == Canonical(block->ToJson()));
    return 0;
}
