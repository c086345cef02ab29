// POST /v1/report bodies as the gateway reads them (ReportRelay::Relay's local checks before any
// registry or network work) and POST /v1/tx bodies at a ledger node: strict JSON of at most
// kMaxTxSize + 1 KiB, a signed tx, of type update or status.
#include "common/core/json.hpp"
#include "common/core/tx.hpp"
#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(report) {
    using namespace fwchain;
    auto body = ParseJson(fuzz::Text(data, size), kMaxTxSize + 1024);
    if (!body) return 0;
    auto tx = ParseTx(*body);
    if (!tx) return 0;
    const bool report = tx->type == txtype::kUpdate || tx->type == txtype::kStatus;
    if (report) FWCHAIN_FUZZ_CHECK(!tx->sender.empty());
    (void)tx->Id();
    return 0;
}
