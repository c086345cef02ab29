#pragma once
// LedgerClient over an embedded node's chain, in process: no HTTP, no JSON round trip, and
// WaitForTipChange is woken by the chain itself.
#include <memory>

#include "ledger/chain/chain.hpp"
#include "ledger/client/client.hpp"
#include "ledger/net/peers.hpp"

namespace fwchain::ledger {

// `peers` (may be null) relays the txs submitted through the client, as POST /v1/tx does.
// Both must outlive the client.
std::unique_ptr<LedgerClient> LocalLedgerClient(Chain& chain, PeerManager* peers);

}  // namespace fwchain::ledger
