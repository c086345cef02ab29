// Ledger transactions as a node or gateway receives them: strict JSON, then ParseTx (shape and
// signature). A tx that parses has one canonical form, its id is stable.
#include "common/core/tx.hpp"

#include "common/core/json.hpp"
#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(tx) {
    using namespace fwchain;
    auto j = ParseJson(fuzz::Text(data, size), kMaxTxSize);
    if (!j) return 0;
    std::string canonical;
    auto tx = ParseTx(*j, &canonical);
    // Moving out of the document gives the same answer as copying from it.
    std::string moved_canonical;
    auto moved = ParseTx(Json(*j), &moved_canonical);
    FWCHAIN_FUZZ_CHECK(static_cast<bool>(moved) == static_cast<bool>(tx));
    if (!tx) {
        FWCHAIN_FUZZ_CHECK(moved.error().message == tx.error().message);
        return 0;
    }
    FWCHAIN_FUZZ_CHECK(moved_canonical == canonical);
    FWCHAIN_FUZZ_CHECK(moved->Id() == tx->Id());
    FWCHAIN_FUZZ_CHECK(canonical == tx->CanonicalText());
    FWCHAIN_FUZZ_CHECK(Canonical(tx->ToJson()) == tx->CanonicalText());
    auto again = ParseTx(tx->ToJson());
    FWCHAIN_FUZZ_CHECK(again);
    FWCHAIN_FUZZ_CHECK(again->Id() == tx->Id());
    return 0;
}
