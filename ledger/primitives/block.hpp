#pragma once
// Blocks and headers (DESIGN.md §5).
//
// Header: 136 bytes, little-endian integers, hashed with SHA-256:
//   [0,4)     version      u32
//   [4,8)     bits         u32   required leading zero bits of the hash
//   [8,16)    height       u64
//   [16,24)   timestamp    i64   seconds since epoch
//   [24,56)   prev_hash    32 bytes
//   [56,88)   merkle_root  32 bytes (of tx ids)
//   [88,120)  miner        32 bytes Ed25519 public key
//   [120,128) extra_nonce  u64   per mining thread
//   [128,136) nonce        u64
// The first 128 bytes are two whole SHA-256 blocks: a miner hashes them once (the midstate) and
// per nonce compresses only the final block (8 bytes + padding), 1 compression instead of 3.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/core/crypto.hpp"
#include "common/core/envelope.hpp"
#include "common/core/metadata.hpp"
#include "common/core/tx.hpp"

namespace fwchain::ledger {

inline constexpr std::size_t kHeaderSize = 136;
inline constexpr std::size_t kMidstateSize = 128;
inline constexpr std::size_t kMaxBlockTxs = 2000;
inline constexpr std::size_t kMaxBlockSize = 4 << 20;  // serialised JSON
inline constexpr std::size_t kMaxMessageSize = 256;
// Work is summed as unsigned __int128 (2^bits per block); this bound keeps the sum far from
// overflow for any realistic chain length.
inline constexpr std::uint32_t kMaxBits = 120;

struct BlockHeader {
    std::uint32_t version = 1;
    std::uint32_t bits = 0;
    std::uint64_t height = 0;
    std::int64_t timestamp = 0;
    Hash256 prev_hash{};
    Hash256 merkle_root{};
    PublicKey miner{};
    std::uint64_t extra_nonce = 0;
    std::uint64_t nonce = 0;

    std::array<std::uint8_t, kHeaderSize> Serialize() const;
    static BlockHeader Deserialize(const std::uint8_t* data);  // kHeaderSize bytes
    Hash256 Hash() const;
};

struct Block {
    BlockHeader header;
    Signature miner_sig{};  // by header.miner over the 32-byte header hash
    std::string message;    // free text, <= 256 bytes
    std::vector<Tx> txs;

    Hash256 Hash() const { return header.Hash(); }
    // {"hash","header"(hex),"miner_sig","message","txs":[tx json]}
    Json ToJson() const;
    // Shape only (sizes, hex, tx shapes and signatures); consensus checks are separate.
    static Expected<Block> FromJson(const Json& j);
};

// A block with what validation and storage derive from its txs computed once: each tx's
// canonical JSON and id, and the block's own canonical JSON. It cannot be changed once built,
// so these never go stale.
class EncodedBlock {
  public:
    // From JSON (a peer, the API, the store): Block::FromJson's checks, every tx signature
    // verified; the signature checks and the encoding are spread over `threads` threads (0: one
    // per core). When `assume_valid` says the block's hash is an ancestor of a checkpoint the
    // vendor signed, the tx signatures are not checked (everything else still is).
    using AssumeValid = std::function<bool(const Hash256& block_hash)>;
    static Expected<EncodedBlock> Parse(const Json& j, unsigned threads = 0,
                                        const AssumeValid* assume_valid = nullptr);
    // The same, moving each tx's strings and body out of `j` instead of copying them (the
    // caller gives the document up: a block fetched for validation). `j` is left valid but
    // unspecified.
    static Expected<EncodedBlock> Parse(Json&& j, unsigned threads = 0,
                                        const AssumeValid* assume_valid = nullptr);
    // From a block built in this process (the miner, tests). Verifies nothing: validation then
    // checks the tx signatures itself, unless `signatures_verified` says this process already
    // did (the miner's txs come from the mempool, which verified each on entry).
    static EncodedBlock Encode(Block block, bool signatures_verified = false);

    const Block& block() const { return block_; }
    Hash256 Hash() const { return block_.Hash(); }
    const std::vector<std::string>& tx_ids() const { return ids_; }      // Tx::Id()
    const std::vector<Hash256>& tx_hashes() const { return hashes_; }    // the same, as bytes
    const std::vector<std::string>& tx_texts() const { return texts_; }  // Tx::CanonicalText()
    const std::string& text() const { return text_; }  // Canonical(block().ToJson())
    bool signatures_verified() const { return verified_; }
    // The tx signatures were not checked: the block is below an assume-valid checkpoint.
    bool signatures_assumed() const { return assumed_; }
    Block Release() && { return std::move(block_); }

    // What the store writes for each tx (ledger/chain/tx_codec.hpp StoredTxsOf), when whoever
    // parsed the block computed it on its own thread (BlockPrefetcher's parsers), so the thread
    // that connects blocks does not; empty otherwise (the store computes it while writing).
    struct StoredTx {
        std::string data;     // PackTxData(tx)
        std::string product;  // IndexedProduct(tx)
    };
    const std::vector<StoredTx>& stored_txs() const { return stored_; }
    void SetStoredTxs(std::vector<StoredTx> stored) { stored_ = std::move(stored); }

  private:
    EncodedBlock() = default;
    template <typename J>
    static Expected<EncodedBlock> ParseImpl(J& j, unsigned threads,
                                            const AssumeValid* assume_valid);
    void SetId(std::size_t i);  // ids_[i], hashes_[i] from texts_[i]
    void EncodeText();

    Block block_;
    std::vector<std::string> ids_;
    std::vector<Hash256> hashes_;
    std::vector<std::string> texts_;
    std::string text_;
    std::vector<StoredTx> stored_;
    bool verified_ = false;
    bool assumed_ = false;
};

// See merkle.hpp for the tree layout and proofs.
Hash256 MerkleRoot(const std::vector<Hash256>& tx_ids);
// Merkle root of the ids of `txs`, in order.
Hash256 MerkleRootOfTxs(const std::vector<Tx>& txs);
// True when hash has at least `bits` leading zero bits.
bool MeetsBits(const Hash256& hash, std::uint32_t bits);

struct ChainParams {
    std::uint32_t initial_bits = 12;    // demo difficulty; production documented in README
    std::int64_t target_interval = 10;  // seconds per block
    std::uint32_t retarget_window = 32;
    std::uint64_t finality_depth = 64;
    std::uint32_t confirmations = 2;
    Json ToJson() const;
    static Expected<ChainParams> FromJson(const Json& j);
};

struct GenesisSpec {
    Envelope root;                  // vendor root metadata (v1)
    std::vector<PublicKey> miners;  // initially admitted miner keys
    ChainParams params;
    std::int64_t timestamp = 0;
    std::string message;
};

// Builds, mines (at params.initial_bits) and signs the genesis block. Its single tx has type
// "genesis", is signed by `miner_key`, recipient = root vendor, and body
// {"root": root envelope json, "root_sha256": signed hash, "miners": [hex], "params": {...}}.
Block MakeGenesisBlock(const GenesisSpec& spec, const SigningKey& miner_key);

// What the genesis tx establishes: the vendor root (the trust anchor for release/admission/approver
// keys), the initially admitted miners and the chain parameters.
struct GenesisInfo {
    Root root;
    std::vector<PublicKey> miners;
    ChainParams params;
};

// Parses a genesis tx body and checks it is self-consistent: the root envelope parses and is
// signed by a threshold of its own root keys (expiry is not checked: the chain outlives it),
// root_sha256 names it, at least one miner. Errors have reason "bad-genesis".
Expected<GenesisInfo> ParseGenesisTx(const Tx& tx);

// Little-endian helpers shared with the miner and tests.
void PutLe64(std::uint8_t* out, std::uint64_t v);
std::uint64_t GetLe64(const std::uint8_t* in);

}  // namespace fwchain::ledger
