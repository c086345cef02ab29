#pragma once
// Fixed keys and documents for the fuzz targets (deterministic Ed25519 seeds), so a seed input
// signed with them reaches past the signature checks, and `fuzz_replay --write-seeds` can
// rebuild the seed corpora byte for byte.
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/envelope.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"

namespace fwchain::fuzz {

inline constexpr std::int64_t kNow = 1800000000;

struct Fixture {
    SigningKey root_key;
    SigningKey release_key;
    SigningKey timestamp_key;
    SigningKey miner_a;  // the two genesis miners
    SigningKey miner_b;
    SigningKey device_key;
    Root root;
    Envelope manifest;  // cam, sequence 1, hardware rev-b
    Release release;
    Timestamp timestamp;  // names `manifest`
    Tx release_tx;
};

const Fixture& TheFixture();

// A valid `ledger` proof object for the fixture's release: 2 genesis miners, 8-bit headers,
// anchored at the genesis header (checkpoint height 0, hash GenesisHash()).
std::string ValidLedgerProof();
std::string GenesisHash();
inline constexpr std::uint32_t kProofBits = 8;

// A signed `update` tx by the fixture's device key (a report body).
Tx ReportTx();

}  // namespace fwchain::fuzz
