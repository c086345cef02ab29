#pragma once
// The stored form of a transaction (docs/architecture.md "The chain store"). Canonical JSON stays
// the signed and wire form; the store keeps each tx once, as indexed columns (type, recipient,
// product, ver, state, time) plus one compact blob with the rest, from which the exact canonical
// text (and so the same id and signature) is rebuilt.
//
// The blob is MessagePack: [sender, sig, verifier, nonce, body]. Every string (top-level or
// anywhere in the body) that is lowercase hex of even length is stored as its bytes (MessagePack
// `bin`): keys, hashes and signatures take half the room. JSON parsed from text never holds
// binary values, so decoding turns every `bin` back into lowercase hex, exactly the text it was.
// The body's object keys that the tx bodies use are stored as one-byte codes (tx_codec.cpp).
// A body that holds anything but objects, arrays, strings, integers, booleans and null is stored
// as its canonical JSON text instead (a MessagePack string where the object would be).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/tx.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

// Even-length lowercase hex ("" excluded): what the store keeps as bytes.
bool IsLowerHex(std::string_view s);

// The blob of `tx` (everything but the column fields).
std::string PackTxData(const Tx& tx);

// The product a tx is indexed under (the `product` column): a release's recipient, an
// admission's product, and the product a device report names (status heartbeats share the
// update body); "" for the rest.
std::string IndexedProduct(const Tx& tx);

// PackTxData and IndexedProduct of every tx of `block`, in order (what
// EncodedBlock::SetStoredTxs takes).
std::vector<EncodedBlock::StoredTx> StoredTxsOf(const Block& block);

// Rebuilds the tx from its columns and blob.
Expected<Tx> UnpackTx(std::string type, std::string recipient, std::string ver, std::string state,
                      std::int64_t time, std::string_view data);

// The body alone, as canonical JSON text (the SQL function fw_body).
Expected<std::string> UnpackBodyText(std::string_view data);

}  // namespace fwchain::ledger
