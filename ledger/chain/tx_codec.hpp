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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/tx.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

// Even-length lowercase hex ("" excluded): what the store keeps as bytes.
bool IsLowerHex(std::string_view s);

// Which fields of a tx the store keeps as references in columns of their own rather than in
// its blob (docs/architecture.md "The chain store"): the sender of a device report (its
// registry row) and the image hash a report names (one row per distinct hash). Both are 32-byte
// values repeated across millions of reports. Such a field is nil in the blob.
struct TxRefs {
    bool sender = false;
    bool verifier = false;
};
TxRefs RefsOf(const Tx& tx);

// The blob of `tx` (everything but the column fields), with the fields `refs` names as nil.
std::string PackTxData(const Tx& tx, TxRefs refs = {});

// The product a tx is indexed under (the `product` column): a release's recipient, an
// admission's product, and the product a device report names (status heartbeats share the
// update body); "" for the rest.
std::string IndexedProduct(const Tx& tx);

// PackTxData(tx, RefsOf(tx)) and IndexedProduct of every tx of `block`, in order (what
// EncodedBlock::SetStoredTxs takes).
std::vector<EncodedBlock::StoredTx> StoredTxsOf(const Block& block);

// Rebuilds the tx from its columns and blob; `sender` and `verifier` (hex) fill the blob's nil
// fields (a nil field without its value is a corrupt row).
Expected<Tx> UnpackTx(std::string type, std::string recipient, std::string ver, std::string state,
                      std::int64_t time, std::string_view data,
                      std::optional<std::string> sender = std::nullopt,
                      std::optional<std::string> verifier = std::nullopt);

// The body alone, as canonical JSON text (the SQL function fw_body).
Expected<std::string> UnpackBodyText(std::string_view data);

}  // namespace fwchain::ledger
