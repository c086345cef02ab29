// 136-byte block headers (GET /v1/headers, device ledger proofs): any 136 bytes decode, and
// encode back to the same bytes.
#include <cstring>

#include "ledger/primitives/block.hpp"
#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(header) {
    using namespace fwchain;
    if (size < ledger::kHeaderSize) return 0;
    const ledger::BlockHeader h = ledger::BlockHeader::Deserialize(data);
    const auto bytes = h.Serialize();
    FWCHAIN_FUZZ_CHECK(std::memcmp(bytes.data(), data, ledger::kHeaderSize) == 0);
    (void)ledger::MeetsBits(h.Hash(), h.bits);
    return 0;
}
