// A device's `require_ledger_proof` check of the `ledger` object of a check answer
// (device-agent/ledger_proof.cpp), against the fixture's root, timestamp and release, from the
// genesis checkpoint; the input is the ledger object's JSON text.
#include "device-agent/ledger_proof.hpp"

#include "common/core/json.hpp"
#include "tests/fuzz/fixture.hpp"
#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(ledger_proof) {
    using namespace fwchain;
    auto ledger = ParseJson(fuzz::Text(data, size), 4 << 20);
    if (!ledger) return 0;
    const fuzz::Fixture& f = fuzz::TheFixture();
    device::LedgerPolicy policy;
    policy.min_bits = fuzz::kProofBits;
    policy.finality_depth = 1;
    policy.genesis_miners = {f.miner_a.Public(), f.miner_b.Public()};
    const device::LedgerCheckpoint genesis{0, fuzz::GenesisHash()};
    auto next = device::VerifyLedgerProof(f.root, f.timestamp, f.release, *ledger, genesis, policy);
    if (next) FWCHAIN_FUZZ_CHECK(next->height >= genesis.height);
    return 0;
}
